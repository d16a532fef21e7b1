from inception_bench.cli import main

main()

"""The shipped specs and ablation files, installed as the package data of ``inception_bench.specs`` (pyproject.toml
maps this folder there), so a wheel finds them through :mod:`importlib.resources`."""

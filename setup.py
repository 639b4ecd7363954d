"""Packaging beyond pyproject.toml: ship the repository's top-level ``hw/`` (RTL, testbench,
Yosys scripts) and ``flows/`` (flow files) inside the package as ``hyq/hw`` and ``hyq/flows``.

The folders stay at the top of the repository, where users read and edit them; an installed
hyq finds them through :mod:`hyq.resources`.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["hyq", "hyq.*"]), "hyq.hw", "hyq.flows"],
    package_dir={"hyq.hw": "hw", "hyq.flows": "flows"},
    package_data={"hyq": ["costs/*.json", "dataflow/*.json"], "hyq.hw": ["*.md", "*/*"], "hyq.flows": ["*.yaml", "*/*.yaml"]},
)

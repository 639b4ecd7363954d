"""FINN dataflow builds: finn-plus without AMD tools (finn_env), hyq steps, the build runner."""

from hyq.dataflow.build import STEPS, BuildResult, BuildSpec, build

__all__ = ["STEPS", "BuildResult", "BuildSpec", "build"]

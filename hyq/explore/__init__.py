"""Design-space exploration: space files, Dask-parallel cached sweeps, Pareto sets, plots.

- :mod:`hyq.explore.space`   space files (base flow + axes or points + objectives)
- :mod:`hyq.explore.runner`  ``explore``: evaluate the points on Dask, cached and resumable
- :mod:`hyq.explore.pareto`  ``pareto_front``: the non-dominated set for any objectives
- :mod:`hyq.explore.plots`   the plots ``hyq explore`` writes and the notebooks show

Layer: above :mod:`hyq.jobs` (each point is a ``hyq run``), below only :mod:`hyq.cli`.
"""

from hyq.explore.pareto import dominates, pareto_front
from hyq.explore.runner import ExploreResult, explore, load_points, point_key
from hyq.explore.space import METRICS, Point, Space, derive_flow, load_space

__all__ = ["METRICS", "ExploreResult", "Point", "Space", "derive_flow", "dominates", "explore", "load_points",
           "load_space", "pareto_front", "point_key"]

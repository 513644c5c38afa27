"""The demo company (Baltic Software Factory): generated data for the demo map, and the cross-store variant."""

from .build import MAP_SOURCE, DemoSummary, generate_demo
from .cases import DEMO_REQUESTS, seed_requests
from .schema import DATASETS, DEMO_TODAY
from .stores import distribute
from .stories import STORIES

__all__ = ["DATASETS", "DEMO_REQUESTS", "DEMO_TODAY", "MAP_SOURCE", "STORIES", "DemoSummary", "distribute",
           "generate_demo", "seed_requests"]

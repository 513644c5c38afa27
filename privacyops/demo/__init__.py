"""The demo company (Baltic Software Factory): generated data for the demo map, and the cross-store variant."""

from .demo_build import MAP_SOURCE, DemoSummary, generate_demo
from .demo_cases import DEMO_REQUESTS, seed_requests
from .demo_identity import DEMO_PEOPLE, people_folder, register_demo_people
from .demo_schema import DATASETS, DEMO_TODAY
from .demo_stores import distribute
from .demo_stories import STORIES

__all__ = ["DATASETS", "DEMO_PEOPLE", "DEMO_REQUESTS", "DEMO_TODAY", "MAP_SOURCE", "STORIES", "DemoSummary",
           "distribute", "generate_demo", "people_folder", "register_demo_people", "seed_requests"]

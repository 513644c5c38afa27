"""The demo company (Baltic Software Factory): generated data for the demo map, and the cross-store variant."""

from .generate import DEMO_TODAY, MAP_SOURCE, STORIES, generate_demo
from .stores import distribute

__all__ = ["DEMO_TODAY", "MAP_SOURCE", "STORIES", "distribute", "generate_demo"]

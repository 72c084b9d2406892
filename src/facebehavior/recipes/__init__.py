"""End-to-end recipes on real data: import → train → evaluate → write results.

A recipe strings together the library's own steps (importers, `training.trainer.train`,
evaluation) for one database and protocol, so a published number can be reproduced with one
command (`facebehavior recipe <name> ...`). Recipes are imported on first use.
"""

from __future__ import annotations

# name → module inside this package; each module has `run_recipe(...)`.
RECIPES = {"ferplus": "facebehavior.recipes.ferplus"}

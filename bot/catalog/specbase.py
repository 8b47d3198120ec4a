"""The base of every fault-file model: strict (`extra="forbid"`) and frozen.

Its own module so check kinds can live in modules of their own (terraformspec.py,
behaviourspec.py) and faultspec.py gathers them without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A fault-file model: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

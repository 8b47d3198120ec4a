"""The base of every fault-file model: strict (`extra="forbid"`) and frozen.

Its own module so check kinds can live in modules of their own (terraformspec.py,
behaviourspec.py) and faultspec.py gathers them without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A fault-file model: unknown keys are errors, values never change after loading."""

    # Built at first validation, not at import: a command that parses one fault.yaml builds
    # the schemas of that fault's models only (issue 17, P1-cli).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

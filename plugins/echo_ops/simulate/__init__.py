"""The simulated production environment: people writing real code in an editor, served
by a completion proposer, through a lossy transport into the landing zone, with the
ground truth of every completion written beside it (see docs/simulator.md).

Modules: corpus (plans what they write), editor (documents and events), truth (the region
rule), people (habits and the accept rule), proposers, session (the writing loop),
completions (trigger, gate, judgement, action),
transport (noise and landing parts), run (days, processes, truth files), score (the
pipeline measured against the truth), ab (two models served on one day).
"""

from echo_ops.simulate.run import simulate_days

__all__ = ["simulate_days"]

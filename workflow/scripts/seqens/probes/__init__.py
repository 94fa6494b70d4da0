"""Frozen-feature probes: ``examples`` cuts a probe's labelled examples from data no member
trained on; ``fit`` reads the members' hidden states on them, fits the probe and the
baselines that need no model."""

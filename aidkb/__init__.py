"""aidkb: the BIS AI Diffusion rule as explainable, cited logic.

The one import name the distribution installs. Its subpackages are the project's top-level folders, linked here
(aidkb/kb -> ../kb, ...), so that `aidkb.kb`, `aidkb.ontology`, `aidkb.queries` and `aidkb.app` are the same
files in a checkout, an editable install and a wheel (README, Design: packaging).
"""

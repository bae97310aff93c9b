"""Behaviour of the promoted model version (Made-With-ML style): invariance, direction, minimum functionality."""

"""Exercises, student checks, releasing student notebooks, exporting and grading."""

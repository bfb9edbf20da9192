"""Labelling stage: raters' labels for a study, their import from spreadsheets, agreement."""

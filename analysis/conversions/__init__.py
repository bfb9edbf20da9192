"""The conversion matrix theme: label discrepancy of cross-framework conversions (issue 13)."""

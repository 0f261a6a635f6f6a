"""Figures, one module per part of the study; `style` gives them one look, set per figure."""

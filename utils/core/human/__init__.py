"""The people's answers: WVS microdata (real or synthetic) -> a long table -> counts per country,
item and option."""

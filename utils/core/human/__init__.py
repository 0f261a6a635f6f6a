"""The people's answers, which both halves read: WVS microdata into a long table (microdata,
wave_map, prepare), synthetic data shaped like it (synthetic_wvs), and a long table into counts per
country, item and option (human_data)."""

"""The paper's rules (`--paper-compat`): the original release's arithmetic, slips included, as one
value (`rules.PAPER`) that the analyses pass through the same steps as ours (`utils/analysis/rules.py`).

Ours corrects four things the original code did; these rules do them the original way, so the
output can be put next to the paper's tables digit for digit:

* answers (`answers`): `ast.literal_eval` of the `response` text (bare keys quoted), `'30%'` ->
  0.30, no renormalization; keys keep their Python type, so `{1: '30%'}` has the integer key 1,
  which never equals the code `'1'`. RQ1 scores the FIRST row of an id, RQ2 the LAST;
* human side (`human`): unweighted respondent counts looked up by the option's integer value,
  renormalized over the options in use;
* item score (`scores`): `1 - wasserstein_distance(s, s, p_model, p_human) / (N - 1)` on one
  support: RQ1's notebooks take it from the first side's keys sorted as Python sorts them, the
  human-alignment notebooks and `rq2_results.py` use 1..N in listed order;
* aggregation: means rounded to 4 decimals; RQ2's significance is Student's t-test (`rq2`);
* the models: the paper's seven by default, in its column order (`models`).
"""

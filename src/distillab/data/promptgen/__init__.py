"""Prompt sets: built from the standard library's documentation, synthesized by a teacher, filtered.

- `stdlib.run_stdlib(StdlibConfig(...))`: "What does `textwrap.dedent` do?", with the docstring kept as
  the `reference` answer (`distillab prompts stdlib`);
- `synthesize.run_synthesis(SynthesizeConfig(...))`: self-instruct from seed prompts, or Magpie (the
  chat template up to the user turn, so the teacher writes the question), through the harvest machinery
  (`distillab prompts synthesize`);
- `filtering.run_filter(FilterConfig(...))`: near-duplicates (MinHash LSH), prompts too close to a
  held-out set, length, language and a `module:function` checker (`distillab prompts filter`).

Every command writes `OUT/prompts.jsonl` (the prompt format `distillab generate` reads, each row with
its `source`) and `OUT/manifest.json` (inputs, counts kept and dropped per filter, thresholds). The
format is in docs/prompts.md. Nothing is imported here, so `distillab --help` stays fast.
"""

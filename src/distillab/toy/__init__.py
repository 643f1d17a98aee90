"""The tiny world: built-in tasks, tokenizer, tiny models and a toy teacher, all made on CPU, no downloads.

- `arith`: multi-step word problems with worked answers; `problems(split, n, seed)`, `is_correct`.
- `text`: continuing stdlib docstring paragraphs; `passages(split, n, seed)`.
- `train_teacher`: `toy_teacher(TeacherConfig(...))` builds (or fetches from the cache) a teacher dir.
- `prompts`: `prompt_rows` / `write_rows` for prompt files.

Only the torch-free pieces are imported here; import the others from their modules.
"""

from distillab.toy.arith import Problem, extract_answer, is_correct, problems
from distillab.toy.config import TeacherConfig
from distillab.toy.text import Passage, passages

__all__ = ["Passage", "Problem", "TeacherConfig", "extract_answer", "is_correct", "passages", "problems"]

"""A given completion as the teacher's tokens: what `distillab score` asks the teacher about.

The split mirrors how `distillab train` encodes a finished record (`distillab.train.encode`), so the scored
tokens are the tokens a student with the same tokenizer trains on:

- a chat: the prompt is ``template(messages, add_generation_prompt=True)``; the completion is the rest of
  ``template(messages + [assistant: completion])``, so the template's end-of-turn tokens are scored too
  (the teacher's probability of ending there is signal);
- a raw prompt: the prompt with the tokenizer's usual special tokens (e.g. BOS), then the completion
  and the end-of-sequence token.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from distillab.errors import RequestError

Chat = list[dict[str, str]]


def given_tokens(
    tokenizer: PreTrainedTokenizerBase, prompt: Chat | str, completion: str
) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) for scoring `completion` after `prompt`."""
    if isinstance(prompt, str):
        head = list(tokenizer(prompt)["input_ids"])
        tail = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
        eos = tokenizer.eos_token_id
        return head, tail + ([int(eos)] if eos is not None else [])
    if not getattr(tokenizer, "chat_template", None):
        raise RequestError("the teacher's tokenizer has no chat template; give a raw 'prompt' instead")
    head_text = str(tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True))
    full = str(
        tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": completion}], tokenize=False)
    )
    segment = full[len(head_text) :] if full.startswith(head_text) else completion
    head = list(tokenizer(head_text, add_special_tokens=False)["input_ids"])
    return head, list(tokenizer(segment, add_special_tokens=False)["input_ids"])

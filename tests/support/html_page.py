"""What the page tests look at in an HTML page, parsed with the standard library: form
controls, labels, meta tags, the text of <style> elements and of elements with an id."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"input", "meta", "br", "hr", "img", "link"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: list[str] = []
        self.meta: list[dict[str, str]] = []
        self.styles: list[str] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are in

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea"):
            self.controls.append({"tag": tag, **a})
        elif tag == "label" and "for" in a:
            self.label_for.append(a["for"])
        elif tag == "meta":
            self.meta.append(a)
        if tag in VOID:
            return
        if tag == "style":
            self.styles.append("")
        if "id" in a:
            self.text_by_id[a["id"]] = ""
        self._open.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for tag, element_id in self._open:
            if tag == "style":
                self.styles[-1] += data
            if element_id is not None:
                self.text_by_id[element_id] += data


def parse_page(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page

"""Reads a run report (components/run_report/report.py) the way the tests look at it."""
from html.parser import HTMLParser


class Report(HTMLParser):
    """The parts of a report a test reads: sections, tables (by id), images, outside references."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.images, self.references, self.tables = [], [], [], {}
        self._table, self._row, self._cell = None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        for name in ("src", "href"):
            if name in attrs and not attrs[name].startswith("data:"):
                self.references.append(attrs[name])
        if tag == "link":
            self.references.append(str(attrs))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

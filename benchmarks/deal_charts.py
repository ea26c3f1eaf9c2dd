"""Print a refreshed workbook's Deal tab to PNG with LibreOffice headless, to look at its
charts: ``python benchmarks/deal_charts.py WORKBOOK OUT_DIR`` (``make deal-charts``).

The Deal tab alone is kept in a copy (other tabs hidden from printing), fitted to one page
wide, printed to PDF by ``soffice --convert-to pdf``, and rasterised by ``pdftoppm``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl


def main(workbook: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "deal-only.xlsx"
        book = openpyxl.load_workbook(workbook)
        for name in book.sheetnames:
            if name != "Deal":
                book[name].sheet_state = "hidden"
        book.active = book.sheetnames.index("Deal")
        ws = book["Deal"]
        # The charts, and the sizing table (its colour scale is the heatmap).
        ws.print_area = ["V38:AG90", "A139:K150"]
        ws.page_setup.orientation = "portrait"
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        book.save(copy)
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", folder,
                        str(copy)], check=True, capture_output=True, timeout=300)
        pdf = copy.with_suffix(".pdf")
        shutil.copy(pdf, out / "deal.pdf")
        subprocess.run(["pdftoppm", "-png", "-r", "110", str(pdf), str(out / "deal")],
                       check=True, timeout=300)
    print("\n".join(str(p) for p in sorted(out.glob("deal*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

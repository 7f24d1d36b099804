"""The second example's data: scikit-learn's diabetes study (442 patients, ten baseline
measurements, disease progression a year later), shipped inside scikit-learn, so nothing is
downloaded. Writes, into the folder given (default: here):

- diabetes.csv: the study as it is (the features are standardized by scikit-learn; the
  target is the progression score). It has no time column: its rows take their arrival time.
- later.csv: the same patients' measurements as traffic seen later, heavier, with higher
  blood pressure and triglycerides (bmi, bp and s5 shifted by one standard deviation: three
  of ten features, past the share `mlrails init` sets for a drift verdict), without the
  outcome: what the drift check should notice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sklearn.datasets import load_diabetes


def write(folder: Path) -> tuple[Path, Path]:
    study = load_diabetes(as_frame=True).frame
    folder.mkdir(parents=True, exist_ok=True)
    data, later = folder / "diabetes.csv", folder / "later.csv"
    study.to_csv(data, index=False)
    shifted = study.drop(columns="target")
    for column in ("bmi", "bp", "s5"):
        shifted[column] = shifted[column] + shifted[column].std()
    shifted.to_csv(later, index=False)
    return data, later


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent):
        print(f"wrote {path}")

"""Print the runtime requirements of pyproject.toml as a requirements.txt for the Cloud
Functions build (which installs requirements.txt, not pyproject.toml)."""

import sys
import tomllib

with open(sys.argv[1], "rb") as fh:
    project = tomllib.load(fh)["project"]
print("# generated from pyproject.toml by deploy/requirements.py")
for requirement in project["dependencies"]:
    print(requirement)

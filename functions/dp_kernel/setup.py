"""The compiled programme's extension and its stable-ABI wheel tag (the rest of the
distribution is declared in pyproject.toml).

They are declared here, through setuptools' stable interface, because their pyproject.toml
forms (``[tool.setuptools] ext-modules`` and ``[tool.distutils.bdist_wheel]``) are still
marked experimental, and setuptools said so, six warnings a build, in every `make setup`,
`make demo` and deploy.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension(
        "btm_ppa_dp", sources=["btm_ppa_dp.c", "network_simplex.c"], py_limited_api=True,
        extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"])],
    # One wheel for CPython 3.11 and later (the stable ABI).
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)

"""Builds the quotakeeper Python package: pure Python plus one cffi extension (build_ffi.py).

There is deliberately no pyproject.toml: with one, pip builds in an isolated environment and
downloads setuptools and cffi from PyPI, which fails offline. Without it, pip uses the
setuptools, wheel and cffi already installed (Debian: python3-setuptools, python3-wheel,
python3-cffi), so `pip install ./bindings/python` works with no network. docs/python.md says
how to point the build at the library (QUOTAKEEPER_BUILD_DIR or pkg-config).
"""

from setuptools import setup

setup(
    name="quotakeeper",
    version="0.2.0",
    description="Count and gate calls to rate-limited APIs from many threads and processes",
    packages=["quotakeeper"],
    package_data={"quotakeeper": ["py.typed"]},
    python_requires=">=3.10",
    setup_requires=["cffi>=1.15"],
    install_requires=["cffi>=1.15"],
    cffi_modules=["build_ffi.py:ffibuilder"],
    zip_safe=False,
)

# reportgen on Debian slim: Python 3.11, Pango for WeasyPrint, and the package, which carries the
# report's fonts (templates/fonts) and templates. No font packages are installed: the PDF, the HTML
# report, the dashboard and the deck's text fitting use the bundled fonts.
#
#   docker build -t reportgen .
#   docker run --rm -v "$PWD/output:/work/output" reportgen                  # the quick start: sample -> PDF
#   docker run --rm -v "$PWD:/work" reportgen build --data extract.parquet --format all
FROM python:3.11-slim-bookworm

# Pango (WeasyPrint's text layout) and HarfBuzz's subsetter (without it WeasyPrint warns and
# subsets fonts more slowly). Pango pulls in fontconfig, which needs one system font
# (fonts-dejavu-core); nothing in the deliverables uses it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY reportgen ./reportgen
COPY templates ./templates
COPY data ./data
RUN pip install --no-cache-dir . && rm -rf /src

RUN useradd --create-home --uid 1000 reportgen && mkdir /work && chown reportgen /work
USER reportgen
WORKDIR /work
ENV PYTHONDONTWRITEBYTECODE=1 MPLCONFIGDIR=/tmp/matplotlib
ENTRYPOINT ["reportgen"]
CMD ["build", "--format", "pdf"]

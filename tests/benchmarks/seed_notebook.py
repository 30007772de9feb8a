"""A seed-style notebook pipeline, written plainly as a notebook author would (the yardstick of
``versus_seed.py``; not part of reportgen and not imported by it).

    python tests/benchmarks/seed_notebook.py "CC GENERAL.csv" OUT_FOLDER

It does what the project's first notebook did, cell by cell: read the CSV with pandas, fill the
gaps with medians, log1p and scale, fit K-Means for k = 2..10 and score every k with the full
silhouette (all customers), take the best k, profile the clusters, draw the charts with seaborn,
write an HTML report and its PDF (Jinja2 + WeasyPrint), a PowerPoint deck (python-pptx) and one
target list per cluster (CSV).
"""

import base64
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from jinja2 import Template  # noqa: E402
from pptx import Presentation  # noqa: E402
from pptx.util import Inches, Pt  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import silhouette_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from weasyprint import HTML  # noqa: E402

data_path, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

# --- load and clean
df = pd.read_csv(data_path)
df["MINIMUM_PAYMENTS"] = df["MINIMUM_PAYMENTS"].fillna(df["MINIMUM_PAYMENTS"].median())
df["CREDIT_LIMIT"] = df["CREDIT_LIMIT"].fillna(df["CREDIT_LIMIT"].median())
features = df.drop(columns=["CUST_ID"])
skewed = [c for c in features.columns if "FREQUENCY" not in c and c not in ("PRC_FULL_PAYMENT", "TENURE")]
X = features.copy()
X[skewed] = np.log1p(X[skewed])
X = StandardScaler().fit_transform(X)

# --- choose k: elbow and full silhouette
inertias, silhouettes = [], []
for k in range(2, 11):
    km = KMeans(n_clusters=k, n_init=10, random_state=42).fit(X)
    inertias.append(km.inertia_)
    silhouettes.append(silhouette_score(X, km.labels_))
best_k = int(np.argmax(silhouettes)) + 2
km = KMeans(n_clusters=best_k, n_init=10, random_state=42).fit(X)
df["cluster"] = km.labels_
profile = df.drop(columns=["CUST_ID"]).groupby("cluster").mean()
sizes = df["cluster"].value_counts().sort_index()


# --- charts
def save(fig, name):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    (out / f"{name}.png").write_bytes(buf.getvalue())
    return buf.getvalue()


charts = {}
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
sns.lineplot(x=list(range(2, 11)), y=inertias, marker="o", ax=ax[0]).set_title("Elbow")
sns.lineplot(x=list(range(2, 11)), y=silhouettes, marker="o", ax=ax[1]).set_title("Silhouette")
charts["k"] = save(fig, "k")
fig, ax = plt.subplots(figsize=(7, 4))
sns.countplot(x=df["cluster"], ax=ax).set_title("Customers per cluster")
charts["sizes"] = save(fig, "sizes")
fig, ax = plt.subplots(figsize=(11, 5))
sns.heatmap((profile - profile.mean()) / profile.std(), cmap="RdBu_r", center=0, annot=True, fmt=".1f", ax=ax)
charts["profile"] = save(fig, "profile")
fig, ax = plt.subplots(figsize=(10, 8))
sns.heatmap(features.corr(), cmap="coolwarm", annot=True, fmt=".2f", annot_kws={"size": 6}, ax=ax)
charts["correlation"] = save(fig, "correlation")
points = PCA(n_components=2, random_state=42).fit_transform(X)
fig, ax = plt.subplots(figsize=(8, 6))
sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=df["cluster"], palette="tab10", s=8, ax=ax).set_title("PCA")
charts["pca"] = save(fig, "pca")
for column in ("BALANCE", "PURCHASES", "CASH_ADVANCE", "PAYMENTS"):
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.boxplot(x=df["cluster"], y=np.log1p(df[column]), ax=ax).set_title(f"log1p {column} by cluster")
    charts[column] = save(fig, f"box_{column}")

# --- HTML and PDF report
template = Template("""<html><head><meta charset="utf-8"><style>
body { font-family: sans-serif; font-size: 10pt } table { border-collapse: collapse; font-size: 7pt }
td, th { border: 1px solid #ccc; padding: 2px 4px } img { width: 100% } h2 { page-break-before: always }
</style></head><body>
<h1>Customer segmentation</h1><p>{{ n }} customers, {{ k }} clusters (best silhouette).</p>
<h2>Choosing k</h2><img src="data:image/png;base64,{{ charts.k }}">
<h2>Clusters</h2><img src="data:image/png;base64,{{ charts.sizes }}">{{ sizes }}
<h2>Profiles</h2>{{ profile }}<img src="data:image/png;base64,{{ charts.profile }}">
<h2>Correlation</h2><img src="data:image/png;base64,{{ charts.correlation }}">
<h2>PCA</h2><img src="data:image/png;base64,{{ charts.pca }}">
{% for c in box %}<h2>{{ c }}</h2><img src="data:image/png;base64,{{ charts[c] }}">{% endfor %}
</body></html>""")
html = template.render(
    n=len(df), k=best_k, charts={k: base64.b64encode(v).decode() for k, v in charts.items()},
    sizes=sizes.to_frame("customers").to_html(), profile=profile.T.round(2).to_html(),
    box=["BALANCE", "PURCHASES", "CASH_ADVANCE", "PAYMENTS"],
)
(out / "report.html").write_text(html, encoding="utf-8")
HTML(string=html).write_pdf(out / "report.pdf")

# --- PowerPoint deck
prs = Presentation()
slide = prs.slides.add_slide(prs.slide_layouts[0])
slide.shapes.title.text = "Customer segmentation"
slide.placeholders[1].text = f"{len(df)} customers, {best_k} clusters"
for name in charts:
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = name
    slide.shapes.add_picture(io.BytesIO(charts[name]), Inches(0.5), Inches(1.5), width=Inches(9))
for cluster, row in profile.iterrows():
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = f"Cluster {cluster}: {sizes[cluster]} customers"
    body = slide.placeholders[1].text_frame
    for column in ("BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT"):
        body.add_paragraph().text = f"{column}: {row[column]:,.2f}"
        body.paragraphs[-1].font.size = Pt(14)
prs.save(out / "deck.pptx")

# --- target lists
for cluster in sorted(df["cluster"].unique()):
    df[df["cluster"] == cluster].to_csv(out / f"targets_cluster_{cluster}.csv", index=False)

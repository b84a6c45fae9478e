#!/usr/bin/env python3
"""Run hnswlib, FAISS (IndexHNSWFlat) and USearch on the same TEXMEX files with
the same M, ef_construction and ef list as `ann-bench`, writing rows in the
same CSV schema (benches/src/row.rs).

Modes, as ann-bench: `single` = one query per call on one thread (Python call
overhead included, a few microseconds per query); `batch` = all queries in
one call, on one thread (the fairest per-core figure) and on --threads.

    python benches/peers.py --base B.fvecs --queries Q.fvecs --gt G.ivecs \
        --metric cosine --m 16 --efc 200 --ef 10,20,40,80,160,320 --csv peers.csv
"""
import argparse
import csv
import os
import resource
import time

import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise SystemExit(f"{path}: records of different dimensions")
    return np.ascontiguousarray(rows[:, 1:].view(dtype))


def recall_at_k(found, gt, k):
    hits = sum(len(set(f[:k]) & set(g[:k])) for f, g in zip(found, gt))
    return hits / (k * len(gt))


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Hnswlib:
    name = "hnswlib"

    def __init__(self, metric, dim):
        import hnswlib
        self.version = getattr(hnswlib, "__version__", "?")
        space = {"cosine": "ip", "ip": "ip", "l2": "l2"}[metric]
        self.index = hnswlib.Index(space=space, dim=dim)

    def build(self, base, m, efc, threads):
        self.index.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=100)
        self.index.add_items(base, np.arange(len(base)), num_threads=threads)

    def set_ef(self, ef):
        self.index.set_ef(ef)

    def search(self, queries, k, threads):
        return self.index.knn_query(queries, k=k, num_threads=threads)[0]

    def size_bytes(self, path):
        self.index.save_index(path)
        return os.path.getsize(path)


class Faiss:
    name = "faiss"

    def __init__(self, metric, dim):
        import faiss
        self.faiss = faiss
        self.version = faiss.__version__
        kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self.dim, self.kind = dim, kind

    def build(self, base, m, efc, threads):
        self.faiss.omp_set_num_threads(threads)
        self.index = self.faiss.IndexHNSWFlat(self.dim, m, self.kind)
        self.index.hnsw.efConstruction = efc
        self.index.add(base)

    def set_ef(self, ef):
        self.index.hnsw.efSearch = ef

    def search(self, queries, k, threads):
        self.faiss.omp_set_num_threads(threads)
        return self.index.search(queries, k)[1]

    def size_bytes(self, path):
        self.faiss.write_index(self.index, path)
        return os.path.getsize(path)


class Usearch:
    name = "usearch"

    def __init__(self, metric, dim):
        import usearch
        from usearch.index import Index
        self.version = usearch.__version__
        self.index_cls, self.dim = Index, dim
        self.metric = {"cosine": "ip", "ip": "ip", "l2": "l2sq"}[metric]

    def build(self, base, m, efc, threads):
        self.index = self.index_cls(ndim=self.dim, metric=self.metric, dtype="f32",
                                    connectivity=m, expansion_add=efc)
        self.index.add(np.arange(len(base)), base, threads=threads)

    def set_ef(self, ef):
        self.index.expansion_search = ef

    def search(self, queries, k, threads):
        # One query comes back as a 1-D array of keys; keep rows uniform.
        return np.atleast_2d(self.index.search(queries, k, threads=threads).keys)

    def size_bytes(self, path):
        self.index.save(path)
        return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--metric", default="cosine", choices=["cosine", "ip", "l2"])
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--ef", default="10,20,40,80,160,320")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--libs", default=os.environ.get("LIBS", "hnswlib,faiss,usearch"))
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()

    base = read_vecs(args.base, np.float32)
    queries = read_vecs(args.queries, np.float32)
    gt = read_vecs(args.gt, np.int32)[:, : args.k]
    if args.metric == "cosine":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    dataset = args.dataset or os.path.basename(args.base).rsplit("_base", 1)[0]
    efs = [int(e) for e in args.ef.split(",")]
    libs = {"hnswlib": Hnswlib, "faiss": Faiss, "usearch": Usearch}

    rows = []
    for name in args.libs.split(","):
        lib = libs[name](args.metric, base.shape[1])
        start = time.perf_counter()
        lib.build(base, args.m, args.efc, args.threads)
        build_s = time.perf_counter() - start
        size = lib.size_bytes(f"/tmp/peers-{os.getpid()}-{name}.idx")
        os.remove(f"/tmp/peers-{os.getpid()}-{name}.idx")
        print(f"{name} {lib.version}: build {build_s:.2f} s, {size} bytes", flush=True)
        modes = [("single", 1), ("batch", 1)] + ([("batch", args.threads)] if args.threads > 1 else [])
        for mode, threads in modes:
            for ef in efs:
                lib.set_ef(ef)
                lib.search(queries, args.k, threads)  # warm-up
                qps_rounds, latencies = [], []
                for _ in range(args.rounds):
                    if mode == "single":
                        found, lat = [], []
                        start = time.perf_counter()
                        for q in queries:
                            t = time.perf_counter()
                            found.append(lib.search(q[None, :], args.k, 1)[0])
                            lat.append(time.perf_counter() - t)
                        wall = time.perf_counter() - start
                        latencies = lat
                    else:
                        start = time.perf_counter()
                        found = lib.search(queries, args.k, threads)
                        wall = time.perf_counter() - start
                    qps_rounds.append(len(queries) / wall)
                recall = recall_at_k([list(f) for f in found], gt, args.k)
                qps = sorted(qps_rounds)[len(qps_rounds) // 2]
                p50 = p99 = ""
                if latencies:
                    lat = sorted(latencies)
                    p50 = lat[int(np.ceil(0.5 * len(lat))) - 1] * 1e6
                    p99 = lat[int(np.ceil(0.99 * len(lat))) - 1] * 1e6
                print(f"  {mode:<6} t{threads:<2} ef {ef:>4}  recall@{args.k} {recall:.4f}  QPS {qps:>9.0f}", flush=True)
                rows.append(dict(lib=name, M=args.m, efc=args.efc, efs=ef, threads=threads, mode=mode,
                                 recall=recall, qps=qps, p50_us=p50, p99_us=p99, build_s=build_s,
                                 index_bytes=size, peak_rss_bytes=peak_rss_bytes(), k=args.k,
                                 metric=args.metric, dataset=dataset, n=len(base), dim=base.shape[1],
                                 nq=len(queries), version=lib.version))
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()

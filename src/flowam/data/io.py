"""Reading one object from a file: point text files, ``.npy``, and meshes to be sampled.

Every reader returns ``(points, normals)`` with ``points`` ``(N, 3)`` float32 and
``normals`` ``(N, 3)`` float32 or None, and raises :class:`~flowam.errors.DataError`
naming the file and the problem (empty file, wrong number of columns, text that is not a
number, NaN or infinity, bad face indices) instead of a traceback from numpy.

Meshes (``.off``, ``.obj``, ``.ply`` with faces) are sampled uniformly by surface area
with trimesh, ``mesh_samples`` points (10,000 by default, like ModelNet40's resampled
release); the sampling method then picks ``num_points`` of those.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import trimesh

from flowam.data.sampling import check_finite
from flowam.errors import DataError

POINT_SUFFIXES = (".txt", ".xyz", ".csv", ".pts", ".npy")
MESH_SUFFIXES = (".off", ".obj", ".ply")
SUFFIXES = POINT_SUFFIXES + MESH_SUFFIXES

Cloud = tuple[np.ndarray, np.ndarray | None]


def read_text_points(path: Path, columns: int | None = None) -> np.ndarray:
    """A numeric table from a comma- or whitespace-separated text file.

    Args:
        path: the file.
        columns: the exact number of columns required; None accepts any count >= 3.

    Returns:
        ``(N, C)`` float32.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{path}: empty file")
    delimiter = "," if "," in first else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(path, delimiter=delimiter, dtype=np.float32, ndmin=2, comments="#")
    except ValueError:
        raise DataError(_diagnose(path, delimiter)) from None
    if table.size == 0:
        raise DataError(f"{path}: empty file")
    if columns is not None and table.shape[1] != columns:
        raise DataError(f"{path}: rows have {table.shape[1]} columns, expected {columns}")
    if columns is None and table.shape[1] < 3:
        raise DataError(f"{path}: rows have {table.shape[1]} columns, expected at least 3")
    check_finite(table, str(path))
    return table


def _diagnose(path: Path, delimiter: str | None) -> str:
    """Name the first row that numpy could not parse, and why."""
    expected = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            fields = [x for x in text.split(delimiter)]
            expected = len(fields) if expected is None else expected
            if len(fields) != expected:
                return f"{path}: row {number} has {len(fields)} columns, expected {expected}"
            for x in fields:
                try:
                    float(x)
                except ValueError:
                    return f"{path}: row {number} holds {x.strip()!r}, not a number"
    return f"{path}: cannot be read as a table of numbers"


def split_columns(table: np.ndarray) -> Cloud:
    """Coordinates from columns 0–2 and, where present, normals from columns 3–5."""
    normals = table[:, 3:6] if table.shape[1] >= 6 else None
    return np.ascontiguousarray(table[:, :3]), normals


def read_off(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` and triangles ``(F, 3)`` of an OFF mesh.

    Accepts the header fused with the counts (``OFF490 518 0``), as some ModelNet files
    have it, comments, and polygons with more than three corners (fan-triangulated).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    lines = [
        s
        for line in path.read_text(errors="replace").splitlines()
        if (s := line.split("#", 1)[0].strip())
    ]
    if not lines:
        raise DataError(f"{path}: empty file")
    if not lines[0].startswith("OFF"):
        raise DataError(f"{path}: not an OFF file (first line is {lines[0][:20]!r})")
    head = lines[0][3:].split()
    body = lines[1:]
    if not head:
        if not body:
            raise DataError(f"{path}: OFF header has no vertex and face counts")
        head, body = body[0].split(), body[1:]
    try:
        n_vertices, n_faces = int(head[0]), int(head[1])
    except (ValueError, IndexError):
        raise DataError(
            f"{path}: OFF counts {' '.join(head)!r} are not 'vertices faces edges'"
        ) from None
    if len(body) < n_vertices + n_faces:
        raise DataError(
            f"{path}: header promises {n_vertices} vertices and {n_faces} faces, "
            f"file has {len(body)} data rows"
        )
    try:
        vertices = np.array([row.split()[:3] for row in body[:n_vertices]], dtype=np.float64)
        triangles = []
        for row in body[n_vertices : n_vertices + n_faces]:
            ids = [int(x) for x in row.split()]
            k = ids[0]
            corners = ids[1 : 1 + k]
            triangles += [(corners[0], corners[i], corners[i + 1]) for i in range(1, k - 1)]
    except (ValueError, IndexError):
        raise DataError(f"{path}: malformed vertex or face row") from None
    if vertices.shape != (n_vertices, 3):
        raise DataError(f"{path}: vertex rows must have 3 coordinates")
    return check_mesh(vertices, np.array(triangles, dtype=np.int64).reshape(-1, 3), path)


def check_mesh(
    vertices: np.ndarray, faces: np.ndarray, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """``(V, 3)`` finite vertices and ``(F, 3)`` triangles indexing them, or a DataError."""
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise DataError(f"{path}: vertices have shape {vertices.shape}, expected (V, 3)")
    check_finite(vertices, str(path))
    if np.abs(vertices).max() > np.finfo(np.float32).max:
        raise DataError(f"{path}: vertex coordinates beyond float32's range")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise DataError(f"{path}: mesh has no triangles (faces of shape {faces.shape})")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise DataError(f"{path}: face refers to a vertex index outside 0..{len(vertices) - 1}")
    return vertices.astype(np.float64), faces.astype(np.int64)


def sample_mesh(
    vertices: np.ndarray, faces: np.ndarray, count: int, seed: int | list[int], source: str
) -> Cloud:
    """``count`` points uniformly by area on a mesh, with the normals of their faces.

    The mesh is sampled at unit scale (areas of huge coordinates would overflow) and the
    points scaled back."""
    scale = float(np.abs(vertices).max()) or 1.0
    mesh = trimesh.Trimesh(vertices / scale, faces, process=False)
    if not mesh.area > 0:
        raise DataError(f"{source}: mesh has zero surface area")
    points, face_idx = trimesh.sample.sample_surface(mesh, count, seed=np.random.default_rng(seed))
    points = np.clip(points * scale, -np.finfo(np.float32).max, np.finfo(np.float32).max)
    return points.astype(np.float32), mesh.face_normals[face_idx].astype(np.float32)


def read_object(path: Path, mesh_samples: int = 10_000, seed: int | list[int] = 0) -> Cloud:
    """Points (and normals where the file has them) of one object file, by suffix.

    ``.txt .xyz .csv .pts``: rows ``x y z [nx ny nz ...]``; ``.npy``: ``(N, 3)`` or
    ``(N, >=6)``; ``.off .obj``: meshes, surface-sampled; ``.ply``: a mesh when it has
    faces, else its vertices as points.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    if suffix == ".npy":
        try:
            table = np.load(path, allow_pickle=False)
        except Exception as e:  # numpy's header parser raises many kinds; all mean "cannot parse"
            raise DataError(f"{path}: not a numeric .npy array ({type(e).__name__}: {e})") from None
        if table.dtype.kind not in "iuf":
            raise DataError(f"{path}: holds {table.dtype}, not numbers")
        if table.ndim != 2 or table.shape[1] < 3 or table.shape[0] == 0:
            raise DataError(f"{path}: array has shape {table.shape}, expected (N, 3) or (N, 6)")
        table = table.astype(np.float32)
        check_finite(table, str(path))
        return split_columns(table)
    if suffix in POINT_SUFFIXES:
        return split_columns(read_text_points(path))
    if suffix == ".off":
        vertices, faces = read_off(path)
        return sample_mesh(vertices, faces, mesh_samples, seed, str(path))
    try:
        loaded = trimesh.load(path, force="mesh" if suffix == ".obj" else None, process=False)
    except Exception as e:  # trimesh raises many kinds; all mean "cannot parse"
        raise DataError(f"{path}: cannot be read as {suffix} ({type(e).__name__}: {e})") from None
    faces = getattr(loaded, "faces", None)
    vertices = np.asarray(getattr(loaded, "vertices", np.empty((0, 3))), dtype=np.float64)
    if len(vertices) == 0:
        raise DataError(f"{path}: no vertices")
    if faces is not None and len(faces) > 0:
        vertices, faces = check_mesh(vertices, faces, path)
        return sample_mesh(vertices, faces, mesh_samples, seed, str(path))
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise DataError(f"{path}: vertices have shape {vertices.shape}, expected (V, 3)")
    check_finite(vertices, str(path))
    return vertices.astype(np.float32), None

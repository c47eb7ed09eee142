"""Every sitemap file a build writes is valid against an XML Schema of the sitemap protocol (sitemaps.org, 0.9): an
index of sitemaps, at most 50,000 URLs and 50 MB a file, each <loc> an absolute http(s) URL of at most 2,048
characters, entity- and URL-escaped (ASCII only), each <lastmod> a W3C date or datetime. The schema is written here
from the protocol's text, so the check runs without the network."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from site_helpers import config, make_store

from tidings.publish.site import build_site, feeds

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _list(root: str, entry: str, optional: tuple[str, ...]) -> str:
    """A file's root: 1 to 50,000 `entry` elements, each a loc, an optional lastmod and the `optional` others
    (whose types share their names)."""
    more = "".join(f'<xs:element name="{name}" type="{name}" minOccurs="0"/>' for name in optional)
    return (f'<xs:element name="{root}"><xs:complexType><xs:sequence>'
            f'<xs:element name="{entry}" minOccurs="1" maxOccurs="50000"><xs:complexType><xs:sequence>'
            f'<xs:element name="loc" type="loc"/><xs:element name="lastmod" type="lastmod" minOccurs="0"/>{more}'
            "</xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>")


SCHEMA = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{NS}" xmlns="{NS}"
  elementFormDefault="qualified">
  <xs:simpleType name="loc">
    <xs:restriction base="xs:anyURI">
      <xs:minLength value="12"/><xs:maxLength value="2048"/><xs:pattern value="https?://[!-~]+"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="lastmod"><xs:union memberTypes="xs:date xs:dateTime"/></xs:simpleType>
  <xs:simpleType name="changefreq">
    <xs:restriction base="xs:string">
      <xs:enumeration value="always"/><xs:enumeration value="hourly"/><xs:enumeration value="daily"/>
      <xs:enumeration value="weekly"/><xs:enumeration value="monthly"/><xs:enumeration value="yearly"/>
      <xs:enumeration value="never"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="priority">
    <xs:restriction base="xs:decimal"><xs:minInclusive value="0"/><xs:maxInclusive value="1"/></xs:restriction>
  </xs:simpleType>
{_list("urlset", "url", ("changefreq", "priority"))}
{_list("sitemapindex", "sitemap", ())}
</xs:schema>"""
VALIDATOR = etree.XMLSchema(etree.fromstring(SCHEMA.encode()))


def _valid(path: Path) -> None:
    assert path.stat().st_size <= 50 * 1024 * 1024, path
    doc = etree.parse(str(path))
    assert VALIDATOR.validate(doc), (path, VALIDATOR.error_log.last_error)


def test_the_schema_refuses_what_the_protocol_refuses():
    good = f'<urlset xmlns="{NS}"><url><loc>https://news.example.com/a/x.html</loc>' \
           "<lastmod>2024-06-30T12:00:00+08:00</lastmod></url></urlset>"
    assert VALIDATOR.validate(etree.fromstring(good.encode()))
    for bad in (good.replace("https://news.example.com/a/x.html", "https://news.example.com/c/金融/"),  # not escaped
                good.replace("https://news.example.com/a/x.html", "/a/x.html"),  # not absolute
                good.replace("2024-06-30T12:00:00+08:00", "Sun, 30 Jun 2024 12:00:00 GMT"),
                f'<urlset xmlns="{NS}"></urlset>'):
        assert not VALIDATOR.validate(etree.fromstring(bad.encode())), bad


@pytest.mark.parametrize("per_file", [4, 50_000])
def test_every_sitemap_file_is_valid(tmp_path, store_at, monkeypatch, per_file):
    """With 4 URLs a file (a dozen items make an index of many files) and with the protocol's 50,000."""
    monkeypatch.setattr(feeds, "SITEMAP_MAX", per_file)
    store = make_store(store_at)
    out = tmp_path / "out"
    build_site(store, config(), out)
    store.close()
    index = etree.parse(str(out / "sitemap.xml")).getroot()
    assert index.tag == f"{{{NS}}}sitemapindex"
    _valid(out / "sitemap.xml")
    files = [out / loc[len(config().url):] for loc in index.xpath("//s:loc/text()", namespaces={"s": NS})]
    assert len(files) > 2 and all(f.is_file() for f in files)
    urls = 0
    for f in files:
        _valid(f)
        n = len(etree.parse(str(f)).getroot())
        assert n <= per_file
        urls += n
    assert urls > 100  # every item page and listing: the site has more than a hundred

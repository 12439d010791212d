//! Zarr groups: what they hold ([`open_group`]) and their consolidated metadata,
//! the one document that describes every node below a group, so that opening a
//! member of a group in an object store costs one request instead of a listing and
//! a metadata request per node.
//!
//! Two formats, both as zarr-python writes them (`zarr.consolidate_metadata`):
//! - v3: the group's `zarr.json` holds `consolidated_metadata` =
//!   `{"kind": "inline", "must_understand": false, "metadata": {"temp": {...},
//!   "sub": {...}, "sub/x": {...}}}`, each value a node's own `zarr.json` document,
//!   keyed by its path below the group.
//! - v2: a `.zmetadata` object beside `.zgroup`: `{"zarr_consolidated_format": 1,
//!   "metadata": {".zgroup": ..., ".zattrs": ..., "temp/.zarray": ...,
//!   "temp/.zattrs": ...}}`.
//!
//! A member opened through its group's consolidated metadata has the location
//! `{group}/{member}#consolidated={member}` (what
//! [`DArray::from_zarr_member`](crate::DArray::from_zarr_member) makes for a URL):
//! every open of it, in this process or on a worker, reads the group's document
//! (v3: one GET of `zarr.json`; v2: `zarr.json`, missing, then `.zmetadata`) and
//! none of the member's own metadata objects. If the group has no consolidated
//! metadata, or it does not list the member, the member is opened as usual and its
//! location loses the option.
//!
//! Consolidated metadata is a snapshot, as in zarr-python: a member changed after
//! [`consolidate_metadata`] ran (a region write that resizes, a replaced array) is
//! described by its old metadata until the group is consolidated again.

use super::remote::{self, Location, Remote};
use super::StoreError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::{ArrayMetadata, ArrayMetadataV2, ArrayMetadataV3};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{ReadableWritableListableStorageTraits, StoreKey, StorePrefix};

/// What a node of a Zarr hierarchy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// An array.
    Array,
    /// A group.
    Group,
}

/// A Zarr group: its attributes and every node below it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZarrGroup {
    /// 2 or 3.
    pub zarr_format: u8,
    /// The group's user attributes (v3 `attributes`, v2 `.zattrs`).
    pub attributes: Map<String, Value>,
    /// Every array and group below this one (all depths), by path below the group
    /// (`"temp"`, `"sub"`, `"sub/x"`), sorted.
    pub members: Vec<(String, NodeKind)>,
    /// The members were read from the group's consolidated metadata (one request),
    /// not by listing the store.
    pub consolidated: bool,
}

/// One node's metadata documents: v3 `zarr.json`, or v2 `.zarray`/`.zgroup` and
/// its `.zattrs`.
#[derive(Clone, Debug)]
struct Node {
    kind: NodeKind,
    doc: Value,
    /// v2 only.
    attributes: Option<Value>,
}

/// A group's own metadata and, if it has them, its consolidated members.
struct GroupDoc {
    zarr_format: u8,
    /// v3: the `zarr.json` document; v2: `.zgroup`'s.
    doc: Value,
    attributes: Map<String, Value>,
    consolidated: Option<BTreeMap<String, Node>>,
}

type Storage = Arc<dyn ReadableWritableListableStorageTraits>;

/// The storage of the node at `path` (keys relative to it).
fn storage_at(path: &Path) -> Result<Storage, StoreError> {
    match remote::locate(path)? {
        Location::Local(local) => {
            let store = FilesystemStore::new(&local).map_err(|e| StoreError::Metadata {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            Ok(Arc::new(store))
        }
        Location::Remote(r) => remote::dyn_storage(&Remote {
            consolidated: None,
            ..r
        }),
    }
}

fn key(name: &str) -> Result<StoreKey, String> {
    StoreKey::new(name).map_err(|e| e.to_string())
}

/// Reads and parses the JSON object at `name` of `storage`, `None` if absent.
fn get_json(storage: &Storage, path: &Path, name: &str) -> Result<Option<Value>, StoreError> {
    let bad = |reason: String| StoreError::Metadata {
        path: path.to_path_buf(),
        reason: format!("{name}: {reason}"),
    };
    let k = key(name).map_err(bad)?;
    let Some(bytes) = storage.get(&k).map_err(|source| StoreError::Storage {
        path: path.to_path_buf(),
        source,
    })?
    else {
        return Ok(None);
    };
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if !v.is_object() {
        return Err(bad("not a JSON object".to_string()));
    }
    Ok(Some(v))
}

fn object(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The nodes of a v3 `consolidated_metadata` object.
fn v3_consolidated(c: &Value) -> Result<BTreeMap<String, Node>, String> {
    let entries = c
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or("consolidated_metadata has no `metadata` object")?;
    let mut nodes = BTreeMap::new();
    for (name, node) in entries {
        let kind = match node.get("node_type").and_then(Value::as_str) {
            Some("array") => NodeKind::Array,
            Some("group") => NodeKind::Group,
            _ => {
                return Err(format!(
                    "consolidated entry `{name}` has no valid node_type"
                ))
            }
        };
        let mut doc = node.clone();
        if let Some(o) = doc.as_object_mut() {
            o.remove("consolidated_metadata");
        }
        let node = Node {
            kind,
            doc,
            attributes: None,
        };
        nodes.insert(name.trim_matches('/').to_string(), node);
    }
    Ok(nodes)
}

/// Reads the group document at `path`: v3 `zarr.json` first (one request), then
/// v2 `.zmetadata`, then `.zgroup` and `.zattrs`.
fn read_group(storage: &Storage, path: &Path) -> Result<GroupDoc, StoreError> {
    let not_a_group = |reason: &str| StoreError::NotAGroup {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let bad = |reason: String| StoreError::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(doc) = get_json(storage, path, "zarr.json")? {
        if doc.get("node_type").and_then(Value::as_str) != Some("group") {
            return Err(not_a_group("its zarr.json is not a group's"));
        }
        let consolidated = match doc.get("consolidated_metadata") {
            None | Some(Value::Null) => None,
            Some(c) => Some(v3_consolidated(c).map_err(bad)?),
        };
        return Ok(GroupDoc {
            zarr_format: 3,
            attributes: object(doc.get("attributes")),
            doc,
            consolidated,
        });
    }
    if let Some(z) = get_json(storage, path, ".zmetadata")? {
        let entries = z
            .get("metadata")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(".zmetadata has no `metadata` object".into()))?;
        let zgroup = entries
            .get(".zgroup")
            .cloned()
            .ok_or_else(|| bad(".zmetadata has no `.zgroup` entry".into()))?;
        let mut nodes = BTreeMap::new();
        for (name, doc) in entries {
            let (node, kind) = if let Some(n) = name.strip_suffix("/.zarray") {
                (n, NodeKind::Array)
            } else if let Some(n) = name.strip_suffix("/.zgroup") {
                (n, NodeKind::Group)
            } else {
                continue;
            };
            let mut doc = doc.clone();
            if let Some(o) = doc.as_object_mut() {
                o.remove("consolidated_metadata");
            }
            let attributes = entries.get(&format!("{node}/.zattrs")).cloned();
            nodes.insert(
                node.trim_matches('/').to_string(),
                Node {
                    kind,
                    doc,
                    attributes,
                },
            );
        }
        return Ok(GroupDoc {
            zarr_format: 2,
            attributes: object(entries.get(".zattrs")),
            doc: zgroup,
            consolidated: Some(nodes),
        });
    }
    if let Some(doc) = get_json(storage, path, ".zgroup")? {
        let attributes = object(get_json(storage, path, ".zattrs")?.as_ref());
        return Ok(GroupDoc {
            zarr_format: 2,
            attributes,
            doc,
            consolidated: None,
        });
    }
    Err(not_a_group(
        "it holds no zarr.json, .zmetadata or .zgroup (nothing, or not a group)",
    ))
}

/// Every node below the group of format `zarr_format` at `storage`'s root, found by
/// listing each group's children and reading their metadata. Names starting with
/// `.` (staging locations) are skipped.
fn walk(
    storage: &Storage,
    path: &Path,
    zarr_format: u8,
) -> Result<BTreeMap<String, Node>, StoreError> {
    let mut nodes = BTreeMap::new();
    let mut groups = vec![String::new()];
    while let Some(group) = groups.pop() {
        let prefix = if group.is_empty() {
            StorePrefix::root()
        } else {
            StorePrefix::new(format!("{group}/")).map_err(|e| StoreError::Metadata {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?
        };
        let listing = storage
            .list_dir(&prefix)
            .map_err(|source| StoreError::Storage {
                path: path.to_path_buf(),
                source,
            })?;
        for child in listing.prefixes() {
            let name = child.as_str().trim_end_matches('/').to_string();
            if name
                .rsplit('/')
                .next()
                .is_none_or(|last| last.starts_with('.'))
            {
                continue;
            }
            let node = if zarr_format == 3 {
                get_json(storage, path, &format!("{name}/zarr.json"))?.and_then(|doc| {
                    let kind = match doc.get("node_type").and_then(Value::as_str) {
                        Some("array") => NodeKind::Array,
                        Some("group") => NodeKind::Group,
                        _ => return None,
                    };
                    Some(Node {
                        kind,
                        doc,
                        attributes: None,
                    })
                })
            } else {
                let found = match get_json(storage, path, &format!("{name}/.zarray"))? {
                    Some(doc) => Some((NodeKind::Array, doc)),
                    None => get_json(storage, path, &format!("{name}/.zgroup"))?
                        .map(|doc| (NodeKind::Group, doc)),
                };
                match found {
                    Some((kind, doc)) => Some(Node {
                        kind,
                        doc,
                        attributes: get_json(storage, path, &format!("{name}/.zattrs"))?,
                    }),
                    None => None,
                }
            };
            let Some(node) = node else { continue };
            if node.kind == NodeKind::Group {
                groups.push(name.clone());
            }
            nodes.insert(name, node);
        }
    }
    Ok(nodes)
}

/// Opens the Zarr group at `path` (a directory or URL, as for
/// [`open_info`](super::open_info)): its attributes and every node below it. A
/// group with consolidated metadata costs one request (v3; two for v2); one
/// without is listed level by level (not possible over HTTP).
///
/// ```
/// use darray::{DArray, WriteOptions};
/// use darray::store::{open_group, NodeKind};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("g.zarr");
/// let x = DArray::<f64>::ones(&[4], [2]).unwrap();
/// let opts = WriteOptions { consolidated: true, ..WriteOptions::default() };
/// darray::to_zarr_group(&path, &[("x", &x)], &opts).unwrap();
/// let g = open_group(&path).unwrap();
/// assert_eq!(g.members, vec![("x".to_string(), NodeKind::Array)]);
/// assert!(g.consolidated);
/// ```
///
/// # Errors
/// [`StoreError::NotAGroup`] if no group is at `path`; [`StoreError::Metadata`] for
/// a document that does not parse; [`StoreError::Storage`] naming the location for
/// a refused request (or a store that cannot list, for a group without
/// consolidated metadata).
pub fn open_group(path: &Path) -> Result<ZarrGroup, StoreError> {
    let storage = storage_at(path)?;
    let g = read_group(&storage, path)?;
    let (nodes, consolidated) = match g.consolidated {
        Some(nodes) => (nodes, true),
        None => (walk(&storage, path, g.zarr_format)?, false),
    };
    Ok(ZarrGroup {
        zarr_format: g.zarr_format,
        attributes: g.attributes,
        members: nodes.into_iter().map(|(name, n)| (name, n.kind)).collect(),
        consolidated,
    })
}

/// Writes the consolidated metadata of the Zarr group at `path` (a directory or a
/// writable URL) as zarr-python's `zarr.consolidate_metadata` does: v3 into the
/// group's `zarr.json`, v2 as `.zmetadata`. Any earlier consolidated metadata is
/// replaced by what the store holds now. zarr-python then opens the group with
/// `zarr.open_consolidated` (or `use_consolidated=True`), and
/// [`DArray::from_zarr_member`](crate::DArray::from_zarr_member) with one request.
///
/// The document is written with one put (an object store) or written beside and
/// renamed (a directory), so a reader sees the old or the new one.
///
/// # Errors
/// As [`open_group`]; [`StoreError::ReadOnly`] for HTTP; [`StoreError::Storage`] or
/// [`StoreError::Io`] if the document cannot be written.
pub fn consolidate_metadata(path: &Path) -> Result<(), StoreError> {
    let location = remote::locate(path)?;
    if let Location::Remote(r) = &location {
        if r.service == remote::Service::Http {
            return Err(StoreError::ReadOnly {
                url: path.display().to_string(),
                reason: "HTTP(S) locations are read-only".to_string(),
            });
        }
    }
    let storage = storage_at(path)?;
    let g = read_group(&storage, path)?;
    let nodes = walk(&storage, path, g.zarr_format)?;
    let (name, doc) = if g.zarr_format == 3 {
        let metadata: Map<String, Value> = nodes.into_iter().map(|(k, n)| (k, n.doc)).collect();
        let mut doc = g.doc;
        doc["consolidated_metadata"] =
            json!({"kind": "inline", "must_understand": false, "metadata": metadata});
        ("zarr.json", doc)
    } else {
        let mut metadata = Map::new();
        metadata.insert(".zgroup".into(), g.doc);
        if !g.attributes.is_empty() {
            metadata.insert(".zattrs".into(), Value::Object(g.attributes));
        }
        for (k, n) in nodes {
            let meta = match n.kind {
                NodeKind::Array => ".zarray",
                NodeKind::Group => ".zgroup",
            };
            metadata.insert(format!("{k}/{meta}"), n.doc);
            if let Some(a) = n.attributes {
                metadata.insert(format!("{k}/.zattrs"), a);
            }
        }
        (
            ".zmetadata",
            json!({"zarr_consolidated_format": 1, "metadata": metadata}),
        )
    };
    let text = serde_json::to_vec_pretty(&doc).map_err(|e| StoreError::Metadata {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    match location {
        Location::Local(local) => {
            let file = local.join(name);
            let tmp = local.join(format!(".{name}.darray-tmp-{}", std::process::id()));
            let io =
                |path: PathBuf, op: &'static str| move |source| StoreError::Io { path, op, source };
            std::fs::write(&tmp, &text).map_err(io(tmp.clone(), "write"))?;
            std::fs::rename(&tmp, &file).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                StoreError::Io {
                    path: file.clone(),
                    op: "rename",
                    source: e,
                }
            })
        }
        Location::Remote(_) => {
            let k = key(name).map_err(|reason| StoreError::Metadata {
                path: path.to_path_buf(),
                reason,
            })?;
            storage
                .set(&k, text.into())
                .map_err(|source| StoreError::Storage {
                    path: path.to_path_buf(),
                    source,
                })
        }
    }
}

/// The metadata of `member` of the group at `r`'s URL minus `/{member}`, from the
/// group's consolidated metadata; `None` if the group has none or it does not list
/// the member (the caller then opens the member as usual).
///
/// # Errors
/// [`StoreError::NotAnArray`] if the consolidated metadata lists `member` as a
/// group; [`StoreError::Metadata`] if its entry does not parse; errors reading the
/// group's document other than its absence.
pub(super) fn member_metadata(
    path: &Path,
    r: &Remote,
    member: &str,
) -> Result<Option<ArrayMetadata>, StoreError> {
    let mut group = Remote {
        consolidated: None,
        ..r.clone()
    };
    let parent = r
        .url
        .path()
        .strip_suffix(&format!("/{member}"))
        .unwrap_or("")
        .to_string();
    group.url.set_path(&parent);
    let group_path = PathBuf::from(remote::location_string(&group));
    let storage = remote::dyn_storage(&group)?;
    let doc = match read_group(&storage, &group_path) {
        Ok(doc) => doc,
        Err(StoreError::NotAGroup { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(node) = doc.consolidated.and_then(|mut c| c.remove(member)) else {
        return Ok(None);
    };
    let bad = |e: serde_json::Error| StoreError::Metadata {
        path: path.to_path_buf(),
        reason: format!("consolidated metadata of the group: {e}"),
    };
    match (node.kind, doc.zarr_format) {
        (NodeKind::Group, _) => Err(StoreError::NotAnArray {
            path: path.to_path_buf(),
            reason: "it is a Zarr group".to_string(),
        }),
        (NodeKind::Array, 3) => Ok(Some(ArrayMetadata::V3(
            serde_json::from_value::<ArrayMetadataV3>(node.doc).map_err(bad)?,
        ))),
        (NodeKind::Array, _) => {
            let mut m = serde_json::from_value::<ArrayMetadataV2>(node.doc).map_err(bad)?;
            m.attributes = object(node.attributes.as_ref());
            Ok(Some(ArrayMetadata::V2(m)))
        }
    }
}

/// The location of member `member` (a path inside the group) of the group at URL
/// `group` that opens through the group's consolidated metadata when it has them
/// (see the module docs of `darray::store`'s groups): `{group}/{member}` with
/// `consolidated={member}` added to `group`'s options fragment.
///
/// ```
/// let loc = darray::store::consolidated_member_url("s3://b/g.zarr#path_style=true", "sub/x");
/// assert_eq!(loc, "s3://b/g.zarr/sub/x#path_style=true&consolidated=sub%2Fx");
/// ```
#[must_use]
pub fn consolidated_member_url(group: &str, member: &str) -> String {
    let (base, fragment) = group.split_once('#').unwrap_or((group, ""));
    let member = member.trim_matches('/');
    let pair = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("consolidated", member)
        .finish();
    let fragment = if fragment.is_empty() {
        pair
    } else {
        format!("{fragment}&{pair}")
    };
    format!("{}/{member}#{fragment}", base.trim_end_matches('/'))
}

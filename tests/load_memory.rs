//! Loading costs memory in proportion to the file, never to what a hostile file declares.
//!
//! A counting global allocator records the peak of the bytes allocated during each load, above
//! what was allocated before it; the bound stated in `backprop::io`'s docs is checked against it:
//! from bytes, at most 2 × the file's size (the network's values and gradients) plus 1 MiB; from
//! a path, at most 3 × the file's size plus 1 MiB (and 1 KiB per tensor the header lists). IDX
//! files cost their result and their bytes, never what a header claims. The cases run one after
//! the other in one test, so that no other test's allocations are counted.

use backprop::prelude::*;
use backprop::{Error, FormatError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), SeqCst) + layout.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            // Counted as the new block allocated before the old one is freed, as a moving
            // realloc does.
            let now = CURRENT.fetch_add(new_size, SeqCst) + new_size;
            PEAK.fetch_max(now, SeqCst);
            CURRENT.fetch_sub(layout.size(), SeqCst);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

/// The peak of the bytes allocated while `f` runs, above those allocated before it.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = CURRENT.load(SeqCst);
    PEAK.store(base, SeqCst);
    let r = f();
    (r, PEAK.load(SeqCst).saturating_sub(base))
}

/// A safetensors file: the metadata and the tensors' entries as JSON text, then `data_len` zeros.
fn file(metadata: &[(&str, &str)], tensors: &str, data_len: usize) -> Vec<u8> {
    let meta: Vec<String> = metadata.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    let mut header = format!("{{\"__metadata__\":{{{}}}{}}}", meta.join(","), tensors).into_bytes();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

/// The metadata of a one-layer network of a dense `n × n` layer without bias, in f64.
fn dense_metadata(n: &str) -> Vec<(&'static str, String)> {
    vec![
        ("format", "backprop".into()),
        ("format_version", "2".into()),
        ("dtype", "F64".into()),
        ("input_shape", n.into()),
        ("layers", "1".into()),
        ("layer.0", format!("dense bias=false in_dim={n} out_dim={n}")),
    ]
}

fn hostile(n: &str, tensors: &str, data_len: usize) -> Vec<u8> {
    let meta = dense_metadata(n);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    file(&meta, tensors, data_len)
}

fn format_error<T>(r: backprop::Result<T>) -> FormatError {
    match r {
        Err(Error::Format(e)) => e,
        Err(e) => panic!("expected a format error, got {e:?}"),
        Ok(_) => panic!("expected a format error, got a network"),
    }
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("backprop-load-memory-{}-{name}", std::process::id()))
}

#[test]
fn loading_memory_is_bounded_by_the_file() {
    // `tensors`: the tensor entries of the file's header, each of which may cost 1 KiB to parse.
    let check_with = |case: &str, peak: usize, file: usize, factor: usize, tensors: usize| {
        println!("{case}: file {file} bytes, peak {peak} bytes ({:.2} x)", peak as f64 / file as f64);
        let bound = factor * file + tensors * 1024 + MIB;
        assert!(peak <= bound, "{case}: peak {peak} bytes for a file of {file} with {tensors} tensors (bound {bound})");
    };
    let check = |case: &str, peak: usize, file: usize, factor: usize| check_with(case, peak, file, factor, 1);

    // An 8 MiB file declaring a 4096 x 4096 layer stored as F4 (half a byte a value): refused
    // before the network (256 MiB of values and gradients in f64) is built.
    let n4 = 4096 * 4096;
    let f4 = hostile(
        "4096",
        &format!(",\"0.weight\":{{\"dtype\":\"F4\",\"shape\":[4096,4096],\"data_offsets\":[0,{}]}}", n4 / 2),
        n4 / 2,
    );
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&f4));
    assert!(matches!(format_error(r), FormatError::WrongDtype { tensor, .. } if tensor == "0.weight"));
    check("F4 4096x4096 from bytes", peak, f4.len(), 2);
    let path = temp_path("f4.safetensors");
    std::fs::write(&path, &f4).unwrap();
    let (r, peak) = peak_during(|| Sequential::<f64>::load(&path));
    assert!(matches!(format_error(r), FormatError::WrongDtype { .. }));
    check("F4 4096x4096 from a path", peak, f4.len(), 3);

    // The right type but another name, or another shape of the same size: refused before building.
    let misnamed = hostile(
        "1024",
        ",\"0.wieght\":{\"dtype\":\"F64\",\"shape\":[1024,1024],\"data_offsets\":[0,8388608]}",
        8 * MIB,
    );
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&misnamed));
    assert!(matches!(format_error(r), FormatError::MissingTensor { name } if name == "0.weight"));
    check("misnamed 1024x1024 from bytes", peak, misnamed.len(), 2);
    let reshaped =
        hostile("1024", ",\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2048,512],\"data_offsets\":[0,8388608]}", 8 * MIB);
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&reshaped));
    assert!(matches!(format_error(r), FormatError::TensorShape { .. }));
    check("reshaped 1024x1024 from bytes", peak, reshaped.len(), 2);

    // A small file declaring a huge layer.
    let huge = hostile("300000000", ",\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}", 32);
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&huge));
    assert!(matches!(format_error(r), FormatError::SizeMismatch { .. }));
    check("300000000^2 layer in 32 bytes", peak, huge.len(), 2);

    // A header whose offsets promise 8 GiB the file does not hold: refused before reading on.
    let short =
        hostile("2", ",\"0.weight\":{\"dtype\":\"F64\",\"shape\":[32768,32768],\"data_offsets\":[0,8589934592]}", 64);
    std::fs::write(&path, &short).unwrap();
    let (r, peak) = peak_during(|| Sequential::<f64>::load(&path));
    let e = format_error(r);
    assert!(matches!(&e, FormatError::Safetensors(m) if m.contains("the file holds")), "{e}");
    check("8 GiB promised in a short file", peak, short.len(), 3);

    // A path that never ends is an error, not an out-of-memory.
    #[cfg(unix)]
    {
        let (r, peak) = peak_during(|| Sequential::<f64>::load("/dev/zero"));
        assert!(matches!(format_error(r), FormatError::Safetensors(_)));
        assert!(peak < MIB, "/dev/zero: peak {peak}");
        println!("/dev/zero: peak {peak} bytes");
    }

    // A header of many small entries, each named twice in the end.
    let mut entries = String::new();
    for i in 0..60_000 {
        entries.push_str(&format!(
            ",\"t{i}\":{{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[{},{}]}}",
            8 * i,
            8 * i + 8
        ));
    }
    let distinct = hostile("2", &entries, 480_000);
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&distinct));
    assert!(matches!(format_error(r), FormatError::SizeMismatch { .. }));
    check_with("60000 header entries", peak, distinct.len(), 2, 60_000);
    entries.push_str(",\"t0\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[0,8]}");
    let many = hostile("2", &entries, 480_000);
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&many));
    assert!(matches!(format_error(r), FormatError::DuplicateTensor { name } if name == "t0"));
    check_with("60000 header entries, one twice", peak, many.len(), 2, 60_001);
    // More entries than a file may list: refused while reading the header.
    let mut entries = String::new();
    for i in 0..=backprop::io::MAX_TENSORS {
        entries.push_str(&format!(",\"t{i}\":{{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[0,0]}}"));
    }
    let too_many = hostile("2", &entries, 0);
    let (r, peak) = peak_during(|| Sequential::<f64>::from_bytes(&too_many));
    let e = format_error(r);
    assert!(matches!(&e, FormatError::Safetensors(m) if m.contains("more than 65536 tensors")), "{e}");
    check("65537 header entries", peak, too_many.len(), 2);

    // A real file: a 1024 x 1024 dense layer, 8 MiB.
    let net = Sequential::<f64>::builder(1024).add(Dense::new(1024, 1024).without_bias()).build(1).unwrap();
    let bytes = net.to_bytes().unwrap();
    let (loaded, peak) = peak_during(|| Sequential::<f64>::from_bytes(&bytes));
    let loaded = loaded.unwrap();
    assert_eq!(loaded.params(), net.params());
    drop(loaded);
    check("valid 1024x1024 from bytes", peak, bytes.len(), 2);
    net.save(&path).unwrap();
    let (loaded, peak) = peak_during(|| Sequential::<f64>::load(&path));
    assert_eq!(loaded.unwrap().params(), net.params());
    check("valid 1024x1024 from a path", peak, bytes.len(), 3);
    // Into an existing network: the file and one staged copy of its values.
    let mut into = Sequential::<f64>::builder(1024).add(Dense::new(1024, 1024).without_bias()).build(2).unwrap();
    let (r, peak) = peak_during(|| into.load_weights(&path));
    r.unwrap();
    assert_eq!(into.params(), net.params());
    check("load_weights 1024x1024 from a path", peak, bytes.len(), 2);
    let (r, peak) = peak_during(|| into.load_weights_from_bytes(&f4));
    assert!(matches!(format_error(r), FormatError::WrongDtype { .. }));
    check("load_weights F4 from bytes", peak, f4.len(), 1);

    std::fs::remove_file(&path).unwrap();

    // IDX images, gzip-compressed: 4 MiB of pixels in a few KiB of gzip. The result (32 MiB of
    // f64) and the pixels' bytes (4 MiB) are all the reader keeps.
    let idx = |dims: &[u32], data: usize| {
        let mut bytes = 0x0803u32.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.resize(bytes.len() + data, 0);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, &bytes).unwrap();
        e.finish().unwrap()
    };
    let gz = temp_path("images.idx.gz");
    std::fs::write(&gz, idx(&[4096, 32, 32], 4 * MIB)).unwrap();
    let (x, peak) = peak_during(|| backprop::data::read_idx_images::<f64>(&gz));
    assert_eq!(x.unwrap().shape(), (4096, 1024));
    println!(
        "IDX 4 MiB of pixels, gzip, as f64: peak {peak} bytes ({:.3} x the result)",
        peak as f64 / (32 * MIB) as f64
    );
    assert!(peak <= 32 * MIB + 4 * MIB + MIB, "IDX: peak {peak}");
    // A gzip stream claiming 100 000 images (627 MB as f64) and holding 16 bytes of pixels.
    std::fs::write(&gz, idx(&[100_000, 28, 28], 16)).unwrap();
    let (x, peak) = peak_during(|| backprop::data::read_idx_images::<f64>(&gz));
    assert!(matches!(x, Err(Error::Data(backprop::data::DataError::Truncated { .. }))));
    println!("IDX claiming 627 MB, holding 16 bytes: peak {peak} bytes");
    assert!(peak <= MIB, "IDX short stream: peak {peak}");
    std::fs::remove_file(&gz).unwrap();
}

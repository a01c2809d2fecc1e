//! Shapes, windows and paddings whose sizes overflow `usize` or exceed
//! [`max_elements`](backprop::max_elements) are typed errors when a network is built or loaded,
//! naming the layer and the numbers: never a panic, a wrapped size, or an allocation that aborts
//! the process later in `predict`.
#![cfg(target_pointer_width = "64")]

use backprop::prelude::*;
use backprop::{seeded, Real, Stream, MAX_ELEMENTS};

fn image(channels: usize, height: usize, width: usize) -> Shape {
    Shape::Image { channels, height, width }
}

/// A network of `layers` over samples of shape `input`.
fn build<T: Real>(input: Shape, layers: Vec<Box<dyn Layer<T>>>) -> Result<Sequential<T>, Error> {
    layers.into_iter().fold(Sequential::<T>::builder_shaped(input), |b, l| b.add_boxed(l)).build(0)
}

/// `layer` built on its own over `input`.
fn build_layer<T: Real>(mut layer: impl Layer<T>, input: Shape) -> Result<Shape, Error> {
    layer.build(input, &mut seeded(0, Stream::Init))
}

/// Asserts that `err`'s message holds every one of `parts`.
fn says(err: &Error, parts: &[&str]) {
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

// 1. C·KH·KW of a convolution overflows.

fn conv_window_overflow<T: Real>() {
    // The brief's case: the input's C·H·W overflows too, and is refused first.
    let c = usize::MAX / 2;
    let err = build::<T>(image(c, 3, 3), vec![Box::new(Conv2d::new(c, 1, (3, 3)))]).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. } | Error::InvalidConfig { name: "input shape", .. }), "{err:?}");
    says(&err, &["9223372036854775807x3x3"]);
    let err = build_layer::<T>(Conv2d::new(c, 1, (3, 3)), image(c, 3, 3)).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
    says(&err, &["conv2d", "9223372036854775807x3x3"]);

    // C·H·W = 2⁴⁰ counts, but C·KH·KW = 2⁴⁰·2¹²·2¹² does not.
    let (c, k) = (1usize << 40, 1usize << 12);
    let conv = Conv2d::new(c, 1, (k, k)).with_padding(k / 2);
    let err = build::<T>(image(c, 1, 1), vec![Box::new(Relu), Box::new(conv)]).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
    says(&err, &["layer 1 (conv2d)", "4096x4096 window", "1099511627776x1x1"]);
}

#[test]
fn a_convolution_whose_window_values_overflow_is_refused() {
    conv_window_overflow::<f32>();
    conv_window_overflow::<f64>();
}

// 2. A pooling window whose KH·KW overflows.

fn pool_window_overflow<T: Real>() {
    let k = 1usize << 33;
    let pools: [Box<dyn Layer<T>>; 2] =
        [Box::new(MaxPool2d::new((k, k)).with_padding(k - 1)), Box::new(AvgPool2d::new((k, k)).with_padding(k - 1))];
    for (pool, kind) in pools.into_iter().zip(["max_pool2d", "avg_pool2d"]) {
        let err = build::<T>(image(1, 3, 3), vec![pool]).unwrap_err();
        assert!(matches!(err, Error::WindowMismatch { .. }), "{err:?}");
        says(&err, &[&format!("layer 0 ({kind})"), "8589934592x8589934592 window", "padding 8589934591"]);
    }
}

#[test]
fn a_pooling_window_whose_pixels_overflow_is_refused() {
    pool_window_overflow::<f32>();
    pool_window_overflow::<f64>();
}

#[test]
fn a_pooling_window_index_over_the_limit_is_refused() {
    // 198² windows of 99² pixels: 384 238 404 entries, past the limit.
    let pool = MaxPool2d::<f32>::new((99, 99)).with_stride(1).with_padding(98);
    let err = build_layer(pool, image(1, 100, 100)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { rows: 39204, cols: 9801, limit: MAX_ELEMENTS, .. }), "{err:?}");
    says(&err, &["max_pool2d", "39204x9801"]);
}

// 3. A padding so large that the output's OH·OW overflows.

fn padding_overflow<T: Real>() {
    let next: [Box<dyn Layer<T>>; 2] = [Box::new(BatchNorm::new(2)), Box::new(GlobalAvgPool::new())];
    for layer in next {
        let conv = Box::new(Conv2d::new(1, 2, (3, 3)).with_padding(1 << 32));
        let err = build::<T>(image(1, 3, 3), vec![conv, layer]).unwrap_err();
        assert!(matches!(err, Error::WindowMismatch { .. }), "{err:?}");
        says(&err, &["layer 0 (conv2d)", "3x3 window", "padding 4294967296", "3x3 input"]);
    }
    // The layers after it on their own, given such an output: H·W overflows.
    let huge = image(2, 1 << 32, 1 << 32);
    let err = build_layer::<T>(BatchNorm::new(2), huge).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
    says(&err, &["batch_norm", "2x4294967296x4294967296"]);
    let err = build_layer::<T>(GlobalAvgPool::new(), huge).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
    says(&err, &["global_avg_pool", "2x4294967296x4294967296"]);
    // H·W counts, C·H·W does not.
    let huge = image(1 << 20, 1 << 22, 1 << 22);
    let err = build_layer::<T>(BatchNorm::new(1 << 20), huge).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
    let err = build_layer::<T>(GlobalAvgPool::new(), huge).unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }), "{err:?}");
}

#[test]
fn a_padding_whose_output_overflows_is_refused() {
    padding_overflow::<f32>();
    padding_overflow::<f64>();
}

// 4. Outputs and im2col matrices per sample over the limit.

fn conv_output_over_the_limit<T: Real>() {
    // 2097153² output pixels: predict would allocate 351 TB for im2col.
    let conv = Box::new(Conv2d::new(1, 1, (3, 3)).with_padding(1 << 20));
    let err = build::<T>(image(1, 3, 3), vec![conv]).unwrap_err();
    let positions = 2_097_153usize * 2_097_153;
    assert!(matches!(err, Error::TooLarge { rows: 1, cols, limit: MAX_ELEMENTS, .. } if cols == positions), "{err:?}");
    says(&err, &["conv2d output", &format!("1x{positions}"), &MAX_ELEMENTS.to_string()]);

    // The output fits (64² values) but im2col does not: 64² × (2048·3·3 + 1) values.
    let conv = Box::new(Conv2d::new(2048, 1, (3, 3)).with_padding(1));
    let err = build::<T>(image(2048, 64, 64), vec![conv]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { rows: 4096, cols: 18433, .. }), "{err:?}");
    says(&err, &["conv2d im2col", "4096x18433"]);
}

#[test]
fn a_convolution_output_or_im2col_over_the_limit_is_refused() {
    conv_output_over_the_limit::<f32>();
    conv_output_over_the_limit::<f64>();
}

// 5. Batch normalization's parameters over the limit.

fn batch_norm_over_the_limit<T: Real>() {
    let n = 1usize << 40;
    let err = Sequential::<T>::builder(n).add(BatchNorm::new(n)).build(0).unwrap_err();
    assert!(matches!(err, Error::TooLarge { rows: 1, cols, limit: MAX_ELEMENTS, .. } if cols == n), "{err:?}");
    says(&err, &["batch_norm", "1x1099511627776"]);

    let c = usize::MAX / 2;
    let err = build_layer::<T>(BatchNorm::new(c), image(c, 3, 3)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { rows: 1, cols, .. } if cols == c), "{err:?}");
    let err = build::<T>(image(c, 3, 3), vec![Box::new(BatchNorm::new(c))]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. } | Error::InvalidConfig { name: "input shape", .. }), "{err:?}");
}

#[test]
fn batch_norm_parameters_over_the_limit_are_refused() {
    batch_norm_over_the_limit::<f32>();
    batch_norm_over_the_limit::<f64>();
}

// 6. Shapes whose C·H·W overflows.

#[test]
fn shape_lengths_are_counted_with_checked_arithmetic() {
    let huge = image(1, 1 << 32, 1 << 32);
    assert_eq!(huge.checked_len(), None);
    assert_eq!(huge.len(), usize::MAX, "len saturates");
    assert_eq!(image(3, 4, 5).checked_len(), Some(60));
    assert_eq!(Shape::Flat(7).checked_len(), Some(7));
}

#[test]
fn a_network_input_whose_values_overflow_is_refused() {
    let huge = image(1, 1 << 32, 1 << 32);
    let err = Sequential::<f32>::builder_shaped(huge).add(Relu).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "input shape", .. }), "{err:?}");
    says(&err, &["1x4294967296x4294967296"]);
    // The same shape in a model file.
    let net = Sequential::<f64>::builder_shaped(image(1, 3, 3)).add(Relu).build(0).unwrap();
    let bytes = with_metadata(&net, &[("input_shape", "1x4294967296x4294967296")]);
    let err = Sequential::<f64>::from_bytes(&bytes).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "input shape", .. }), "{err:?}");
}

// Model files declaring such layers.

/// A valid file of `net` with metadata entries replaced.
fn with_metadata(net: &Sequential<f64>, entries: &[(&str, &str)]) -> Vec<u8> {
    let bytes = net.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    for (key, value) in entries {
        meta.insert(key.to_string(), value.to_string());
    }
    safetensors::serialize(file.tensors(), Some(meta)).unwrap()
}

#[test]
fn model_files_declaring_huge_shapes_are_typed_errors() {
    let conv = build::<f64>(image(1, 3, 3), vec![Box::new(Conv2d::new(1, 1, (3, 3)))]).unwrap();
    let pool = build::<f64>(image(1, 3, 3), vec![Box::new(MaxPool2d::new((2, 2)))]).unwrap();
    let big = "4294967297";
    let cases = [
        // OH·OW of the convolution overflows.
        (&conv, vec![("input_shape", format!("1x{big}x{big}"))]),
        // KH·KW of the pooling window overflows.
        (
            &pool,
            vec![("layer.0", format!("max_pool2d kernel_h={big} kernel_w={big} stride={big} padding=4294967296"))],
        ),
        // C·KH·KW of the convolution overflows (its weight cannot be in the file).
        (
            &conv,
            vec![
                ("input_shape", format!("{big}x1x1")),
                ("layer.0", format!("conv2d bias=true filters=1 in_channels={big} kernel_h={big} kernel_w=1 padding=2147483648 stride=1")),
            ],
        ),
        // The output per sample is over the limit.
        (&conv, vec![("layer.0", "conv2d bias=true filters=1 in_channels=1 kernel_h=3 kernel_w=3 padding=1048576 stride=1".into())]),
    ];
    for (net, entries) in cases {
        let entries: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match Sequential::<f64>::from_bytes(&with_metadata(net, &entries)) {
            Err(
                Error::Format(_)
                | Error::WindowMismatch { .. }
                | Error::TooLarge { .. }
                | Error::InputShape { .. }
                | Error::InvalidConfig { name: "input shape", .. },
            ) => {}
            other => panic!("{entries:?}: expected a typed error, got {other:?}"),
        }
    }
}

// Ordinary shapes still build.

fn ordinary_shapes_build<T: Real>() {
    let net = build::<T>(
        image(3, 32, 32),
        vec![
            Box::new(Conv2d::new(3, 16, (3, 3)).with_padding(1)),
            Box::new(BatchNorm::new(16)),
            Box::new(Relu),
            Box::new(MaxPool2d::new((2, 2))),
            Box::new(Conv2d::new(16, 32, (3, 3)).with_stride(2).with_padding(1)),
            Box::new(AvgPool2d::new((3, 3)).with_stride(1).with_padding(1)),
            Box::new(GlobalAvgPool::new()),
            Box::new(Dense::new(32, 10)),
        ],
    )
    .unwrap();
    assert_eq!(net.output_shape(), Shape::Flat(10));
    assert_eq!(net.layers().nth(3).map(|l| l.kind()), Some("max_pool2d"));
    let x = nalgebra::DMatrix::from_fn(2, 3 * 32 * 32, |i, j| T::cast(((i * 7 + j) as f64 * 0.01).sin()));
    assert_eq!(net.predict(&x).unwrap().shape(), (2, 10));
    // At the limit exactly: a convolution whose output is max_elements values per sample.
    let side = 1usize << 13; // 2¹³ × 2¹³ = 2²⁶
    let net = Sequential::<T>::builder_shaped(image(1, side, side))
        .add(Conv2d::new(1, 1, (1, 1)).without_bias())
        .build(0)
        .unwrap();
    assert_eq!(net.output_shape(), image(1, side, side));
}

#[test]
fn ordinary_shapes_still_build() {
    ordinary_shapes_build::<f32>();
    ordinary_shapes_build::<f64>();
}

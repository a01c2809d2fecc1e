//! PCA and ZCA whitening (`data::Whitener`) and the `Preprocessor` trait it shares with
//! `Standardizer`.

use backprop::data::{covariance, read_digits, Preprocessor, Standardizer, Whitener, Whitening, WhiteningKind};
use backprop::{seeded, Error, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;

/// `n` samples of `d` correlated features: standard normal draws mixed by a random `d × d`
/// matrix, plus an offset per column (so the mean matters).
fn correlated(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = seeded(seed, Stream::Init);
    let z = DMatrix::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    let mix = DMatrix::from_fn(d, d, |i, j| if i == j { 2.0 } else { rng.random_range(-1.0..1.0) });
    let mut x = z * mix;
    for (j, mut col) in x.column_iter_mut().enumerate() {
        col.add_scalar_mut(3.0 * j as f64 - 4.0);
    }
    x
}

/// The largest |entry| of `a − b`.
fn max_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).amax()
}

/// A whitener with an epsilon too small to matter: exact whitening.
fn exact(kind: WhiteningKind) -> Whitening {
    let settings = match kind {
        WhiteningKind::Pca => Whitening::pca(),
        WhiteningKind::Zca => Whitening::zca(),
    };
    settings.with_epsilon(1e-14)
}

#[test]
fn whitened_training_data_has_identity_covariance_in_f64() {
    let x = correlated(400, 6, 1);
    let before = covariance(&x).unwrap();
    let off_before = (0..6).flat_map(|i| (0..6).filter(move |&j| j != i).map(move |j| (i, j)));
    assert!(off_before.map(|(i, j)| before[(i, j)].abs()).fold(0.0, f64::max) > 0.1, "the data is correlated");
    for kind in [WhiteningKind::Pca, WhiteningKind::Zca] {
        let w = Whitener::fit(&x, exact(kind)).unwrap();
        let z = w.transform(&x).unwrap();
        let diff = max_diff(&covariance(&z).unwrap(), &DMatrix::identity(6, 6));
        assert!(diff < 1e-6, "{kind:?}: covariance differs from the identity by {diff:e}");
        let mean = z.row_mean().amax();
        assert!(mean < 1e-10, "{kind:?}: whitened mean {mean:e}");
    }
}

#[test]
fn the_default_epsilon_follows_its_formula() {
    let x = correlated(300, 5, 2);
    let sigma = covariance(&x).unwrap();
    let w = Whitener::fit(&x, Whitening::pca()).unwrap();
    // ε = r · tr(Σ) / d with r = 1e-5.
    let expected = 1e-5 * sigma.trace() / 5.0;
    assert!((w.epsilon() - expected).abs() <= 1e-15 * expected, "{} vs {expected}", w.epsilon());
    // PCA output: covariance diag(λ / (λ + ε)), eigenvalues largest first.
    let c = covariance(&w.transform(&x).unwrap()).unwrap();
    let lambdas = w.eigenvalues();
    assert!(lambdas.windows(2).all(|p| p[0] >= p[1]), "{lambdas:?}");
    for (i, &lambda) in lambdas.iter().enumerate() {
        let want = lambda / (lambda + w.epsilon());
        assert!((c[(i, i)] - want).abs() < 1e-12, "axis {i}: {} vs {want}", c[(i, i)]);
        // The smallest axis is damped visibly, so the test tells ε from 0.
        assert!(want < 1.0 - 1e-7, "axis {i}: {want}");
    }
    // A larger epsilon damps more.
    let damped = Whitener::fit(&x, Whitening::pca().with_epsilon(0.5)).unwrap();
    let c2 = covariance(&damped.transform(&x).unwrap()).unwrap();
    assert!(c2[(4, 4)] < c[(4, 4)] - 0.01, "{} vs {}", c2[(4, 4)], c[(4, 4)]);
}

#[test]
fn eigen_decomposition_reconstructs_the_covariance() {
    let x = correlated(200, 4, 3);
    let w = Whitener::fit(&x, Whitening::zca()).unwrap();
    let u = w.eigenvectors();
    let lambda = DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(w.eigenvalues()));
    let diff = max_diff(&(u * lambda * u.transpose()), &covariance(&x).unwrap());
    assert!(diff < 1e-10, "{diff:e}");
    assert!(max_diff(&(u.transpose() * u), &DMatrix::identity(4, 4)) < 1e-12);
    // Each axis's largest entry is positive (the sign convention).
    for col in u.column_iter() {
        let largest = col.iter().copied().fold(0.0_f64, |b, v| if v.abs() > b.abs() { v } else { b });
        assert!(largest > 0.0);
    }
}

#[test]
fn zca_output_is_closer_to_its_input_than_pca_or_any_other_whitening() {
    let x = correlated(300, 5, 4);
    let pca = Whitener::fit(&x, exact(WhiteningKind::Pca)).unwrap().transform(&x).unwrap();
    let zca = Whitener::fit(&x, exact(WhiteningKind::Zca)).unwrap().transform(&x).unwrap();
    let (d_zca, d_pca) = ((&zca - &x).norm(), (&pca - &x).norm());
    assert!(d_zca < d_pca, "ZCA {d_zca} vs PCA {d_pca}");
    // Every whitening is the ZCA one times an orthogonal matrix: ZCA is the closest of them.
    let mut rng = seeded(9, Stream::Init);
    for _ in 0..20 {
        let q = DMatrix::from_fn(5, 5, |_, _| rng.sample::<f64, _>(StandardNormal)).qr().q();
        let other = &zca * q;
        assert!(max_diff(&covariance(&other).unwrap(), &DMatrix::identity(5, 5)) < 1e-6);
        assert!(d_zca < (&other - &x).norm());
    }
}

#[test]
fn inverse_transform_returns_the_input() {
    let x = correlated(250, 6, 5);
    let unseen = correlated(40, 6, 6);
    let scale = x.amax();
    for settings in [Whitening::pca(), Whitening::zca(), exact(WhiteningKind::Pca), exact(WhiteningKind::Zca)] {
        let w = Whitener::fit(&x, settings).unwrap();
        for data in [&x, &unseen] {
            let back = w.inverse_transform(&w.transform(data).unwrap()).unwrap();
            let diff = max_diff(&back, data);
            assert!(diff < 1e-12 * scale.max(1.0) * 100.0, "{settings:?}: {diff:e}");
        }
    }
    let s = Standardizer::fit(&x).unwrap();
    let diff = max_diff(&s.inverse_transform(&s.transform(&unseen).unwrap()).unwrap(), &unseen);
    assert!(diff < 1e-12, "standardizer: {diff:e}");
}

#[test]
fn f32_data_whitens_too() {
    let x64 = correlated(500, 5, 7);
    let x: DMatrix<f32> = x64.map(|v| v as f32);
    for kind in [WhiteningKind::Pca, WhiteningKind::Zca] {
        let w = Whitener::<f32>::fit(&x, exact(kind)).unwrap();
        let z = w.transform(&x).unwrap();
        let diff = max_diff(&covariance(&z).unwrap(), &DMatrix::identity(5, 5));
        assert!(diff < 1e-5, "{kind:?}: {diff:e}");
        let back = w.inverse_transform(&z).unwrap();
        let err = (&back - &x).amax();
        assert!(err < 1e-5 * x.amax(), "{kind:?}: {err:e}");
    }
}

#[test]
fn the_output_does_not_depend_on_the_data_scale() {
    let x = correlated(100, 4, 8);
    let big = &x * 1000.0;
    for settings in [Whitening::pca(), Whitening::zca()] {
        let a = Whitener::fit(&x, settings).unwrap().transform(&x).unwrap();
        let b = Whitener::fit(&big, settings).unwrap().transform(&big).unwrap();
        assert!(max_diff(&a, &b) < 1e-9, "{settings:?}: {:e}", max_diff(&a, &b));
    }
}

#[test]
fn constant_and_dependent_columns_give_finite_output() {
    // Column 2 constant, column 3 = column 0 + column 1: rank 2 of 4.
    let base = correlated(50, 2, 10);
    let x = DMatrix::from_fn(50, 4, |i, j| match j {
        0 | 1 => base[(i, j)],
        2 => 7.0,
        _ => base[(i, 0)] + base[(i, 1)],
    });
    for settings in [Whitening::pca(), Whitening::zca()] {
        let w = Whitener::fit(&x, settings).unwrap();
        let z = w.transform(&x).unwrap();
        assert!(z.iter().all(|v| v.is_finite()));
        let c = covariance(&z).unwrap();
        // Two directions with variance (≈ 1 each), two without (≈ 0): trace ≈ 2.
        assert!((c.trace() - 2.0).abs() < 1e-3, "{settings:?}: trace {}", c.trace());
        assert!(w.eigenvalues()[2] < 1e-10 && w.eigenvalues()[3] < 1e-10, "{:?}", w.eigenvalues());
        assert!(max_diff(&w.inverse_transform(&z).unwrap(), &x) < 1e-9);
    }
    let constant = DMatrix::from_element(5, 3, 2.5_f64);
    let w = Whitener::fit(&constant, Whitening::zca()).unwrap();
    assert_eq!(w.epsilon(), 1e-5); // no variance at all: ε = r
    assert!(w.transform(&constant).unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn fitting_is_deterministic() {
    let x = correlated(120, 5, 11);
    for settings in [Whitening::pca(), Whitening::zca()] {
        assert_eq!(Whitener::fit(&x, settings).unwrap(), Whitener::fit(&x, settings).unwrap());
    }
}

#[test]
fn errors_are_typed_and_say_what_was_expected() {
    let x = correlated(20, 3, 12);
    let one_row = x.rows(0, 1).into_owned();
    match Whitener::fit(&one_row, Whitening::zca()) {
        Err(Error::TooFewRows { needed: 2, got: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    match Whitener::fit(&DMatrix::<f64>::zeros(0, 3), Whitening::pca()) {
        Err(Error::TooFewRows { needed: 2, got: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(Whitener::fit(&DMatrix::<f64>::zeros(5, 0), Whitening::pca()), Err(Error::EmptyInput { .. })));
    assert!(matches!(covariance(&one_row), Err(Error::TooFewRows { needed: 2, got: 1, .. })));

    let mut bad = x.clone();
    bad[(4, 2)] = f64::NAN;
    match Whitener::fit(&bad, Whitening::zca()) {
        Err(Error::NonFinite { row: 4, col: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    let huge = &x * 1e200;
    match Whitener::fit(&huge, Whitening::zca()) {
        Err(e @ Error::NonFinite { .. }) => assert!(e.to_string().contains("covariance"), "{e}"),
        other => panic!("{other:?}"),
    }
    for epsilon in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let r = Whitener::fit(&x, Whitening::zca().with_epsilon(epsilon));
        assert!(matches!(r, Err(Error::InvalidConfig { name: "whitening epsilon", .. })), "{epsilon}: {r:?}");
    }

    let w = Whitener::fit(&x, Whitening::pca()).unwrap();
    let narrow = DMatrix::<f64>::zeros(4, 2);
    for r in [w.transform(&narrow), w.inverse_transform(&narrow)] {
        match r {
            Err(e @ Error::WidthMismatch { expected: 3, got: 2, .. }) => {
                assert!(e.to_string().contains("expects 3 columns, got 2"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    let mut inf = x.rows(0, 3).into_owned();
    inf[(1, 0)] = f64::INFINITY;
    assert!(matches!(w.transform(&inf), Err(Error::NonFinite { row: 1, col: 0, .. })));
    assert!(matches!(w.inverse_transform(&inf), Err(Error::NonFinite { row: 1, col: 0, .. })));
    let message = Error::TooFewRows { what: "data to fit a whitener on", needed: 2, got: 1 }.to_string();
    assert_eq!(message, "data to fit a whitener on needs at least 2 rows (samples), got 1");
}

/// One function for any `Preprocessor`: fit on train, transform test.
fn fit_and_apply<P: Preprocessor<f64>>(
    train: &DMatrix<f64>,
    test: &DMatrix<f64>,
    settings: P::Settings,
) -> DMatrix<f64> {
    let (fitted, z) = P::fit_transform(train, settings).unwrap();
    assert!(max_diff(&fitted.inverse_transform(&z).unwrap(), train) < 1e-9);
    fitted.transform(test).unwrap()
}

#[test]
fn standardizer_and_whitener_share_one_trait() {
    let train = correlated(100, 3, 13);
    let test = correlated(10, 3, 14);
    let s = fit_and_apply::<Standardizer<f64>>(&train, &test, ());
    assert_eq!(s, Standardizer::fit(&train).unwrap().transform(&test).unwrap());
    let w = fit_and_apply::<Whitener<f64>>(&train, &test, Whitening::pca());
    assert_eq!(w, Whitener::fit(&train, Whitening::pca()).unwrap().transform(&test).unwrap());
    // The default settings: ZCA.
    let d = Whitener::<f64>::fit_default(&train).unwrap();
    assert_eq!(d.kind(), WhiteningKind::Zca);
}

#[test]
fn digits_whiten_to_the_covariance_the_formula_gives() {
    let Ok((x, _)) = read_digits::<f64>("data/digits.csv.gz") else {
        panic!("data/digits.csv.gz ships with the repository");
    };
    let x = x / 16.0;
    for settings in [Whitening::pca(), Whitening::zca(), Whitening::zca().with_epsilon(0.1)] {
        let w = Whitener::fit(&x, settings).unwrap();
        let c = covariance(&w.transform(&x).unwrap()).unwrap();
        // Σ̃ = diag(λ/(λ+ε)) along the principal axes (PCA), U·diag(λ/(λ+ε))·Uᵀ (ZCA); the blank
        // corner pixels (λ = 0) stay 0.
        let shrink: Vec<f64> = w.eigenvalues().iter().map(|&l| l / (l + w.epsilon())).collect();
        let d = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(shrink));
        let expected = match settings.kind() {
            WhiteningKind::Pca => d,
            WhiteningKind::Zca => w.eigenvectors() * d * w.eigenvectors().transpose(),
        };
        let diff = max_diff(&c, &expected);
        assert!(diff < 1e-9, "{settings:?}: {diff:e}");
        assert!(c.iter().all(|v| v.is_finite()));
    }
}

/// Data on a scale whose variances underflow `f64` (ε with them) is refused when fitted — it
/// whitened every row to NaN — and a result past `f32` is refused, not returned as infinity.
#[test]
fn scales_past_the_floating_point_range_are_errors() {
    let tiny = DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 1e-160, 0.0]);
    let err = Whitener::fit(&tiny, Whitening::zca()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert!(err.to_string().contains("too small"), "{err}");
    let x = DMatrix::from_row_slice(3, 2, &[0.0f32, 1.0, 1.0, 0.0, 2.0, 2.5]);
    let whitener = Whitener::fit(&x, Whitening::zca()).unwrap();
    let err = whitener.inverse_transform(&DMatrix::from_row_slice(1, 2, &[3e38f32, 3e38])).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert!(whitener.inverse_transform(&whitener.transform(&x).unwrap()).is_ok());
}

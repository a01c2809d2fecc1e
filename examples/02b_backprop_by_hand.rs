//! 실습 2, "1 step 학습": one step of backpropagation written out by hand, then by the crate.
//!
//! The network and data of 실습 2 (2-3-1, sigmoid, no bias, E = ½Σ(y − t)²), started from
//! NumPy's seed-0 weights so a learner can redo every number in NumPy. The step is computed with
//! plain nalgebra, named as the course's slides name it:
//!
//! ```text
//! layer_1        = sigmoid(X · W_layer_1)                          4 × 3
//! layer_2        = sigmoid(layer_1 · W_layer_2)                    4 × 1
//! E              = ½ Σ (layer_2 − Y)²
//! layer_2_delta  = (layer_2 − Y) ⊙ layer_2 ⊙ (1 − layer_2)          ∂E/∂(layer_1 · W_layer_2)
//! layer_1_delta  = (layer_2_delta · W_layer_2ᵀ) ⊙ layer_1 ⊙ (1 − layer_1)
//! layer_2_W_grad = layer_1ᵀ · layer_2_delta                         ∂E/∂W_layer_2, 3 × 1
//! layer_1_W_grad = Xᵀ · layer_1_delta                               ∂E/∂W_layer_1, 2 × 3
//! W_layer_i     -= learning_rate · layer_i_W_grad
//! ```
//!
//! Then the same step through the crate: [`Network::gradients`] returns E and the gradients by
//! path (`"0.weight"` is `W_layer_1`, `"2.weight"` is `W_layer_2`) without updating, and one epoch
//! of [`Network::fit`] applies the update. Both must agree with the hand computation to 1e-12.
//!
//! Last, the chain-rule slide's scalar example: t = x + y, z = t², so
//! ∂z/∂x = ∂z/∂t · ∂t/∂x = 2t · 1 = 2(x + y), checked against a central difference.
//!
//! Run: `cargo run --release --example 02b_backprop_by_hand`

mod common;

use backprop::prelude::*;
use common::{block, numpy_w1, numpy_w2, xor_data};
use nalgebra::DMatrix;

fn sigmoid(m: &DMatrix<f64>) -> DMatrix<f64> {
    m.map(|v| 1.0 / (1.0 + (-v).exp()))
}

/// The largest entry of `|a − b|` (infinite if the shapes differ).
fn max_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    if a.shape() == b.shape() {
        (a - b).amax()
    } else {
        f64::INFINITY
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, y) = xor_data();
    let (w_layer_1, w_layer_2) = (numpy_w1(), numpy_w2());
    let learning_rate = 0.1;
    println!("X =\n{}\nY =\n{}", block(&x, 0), block(&y, 0));
    println!("W_layer_1 =\n{}\nW_layer_2 =\n{}\n", block(&w_layer_1, 8), block(&w_layer_2, 8));

    // ---- One step by hand ----
    println!("--- 1 step by hand (nalgebra) ---");
    let layer_1 = sigmoid(&(&x * &w_layer_1));
    let layer_2 = sigmoid(&(&layer_1 * &w_layer_2));
    let e = 0.5 * (&layer_2 - &y).norm_squared();
    let layer_2_delta = (&layer_2 - &y).component_mul(&layer_2.map(|v| v * (1.0 - v)));
    let layer_1_delta = (&layer_2_delta * w_layer_2.transpose()).component_mul(&layer_1.map(|v| v * (1.0 - v)));
    let layer_2_w_grad = layer_1.transpose() * &layer_2_delta;
    let layer_1_w_grad = x.transpose() * &layer_1_delta;
    for (name, m) in [
        ("layer_1", &layer_1),
        ("layer_2", &layer_2),
        ("layer_2_delta", &layer_2_delta),
        ("layer_1_delta", &layer_1_delta),
        ("layer_2_W_grad", &layer_2_w_grad),
        ("layer_1_W_grad", &layer_1_w_grad),
    ] {
        println!("{name} =\n{}", block(m, 8));
    }
    println!("E = {e:.17}");
    let new_w_layer_1 = &w_layer_1 - &layer_1_w_grad * learning_rate;
    let new_w_layer_2 = &w_layer_2 - &layer_2_w_grad * learning_rate;
    println!(
        "W_layer_1 after the step =\n{}\nW_layer_2 after the step =\n{}\n",
        block(&new_w_layer_1, 8),
        block(&new_w_layer_2, 8)
    );

    // ---- The same step through the crate ----
    println!("--- the same step through the crate ---");
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias())
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias())
        .add(Sigmoid)
        .build(0)?;
    net.set_param("0.weight", &w_layer_1)?;
    net.set_param("2.weight", &w_layer_2)?;
    let grads = net.gradients(&x, &y, &SquaredError::half_sum())?;
    let grad = |path: &str| grads.get(path).cloned().ok_or(Error::NoSuchParam { path: path.into() });
    let (crate_1, crate_2) = (grad("0.weight")?, grad("2.weight")?);
    println!("net.gradients(): E = {:.17}", grads.loss);
    println!(
        "\"0.weight\" (layer_1_W_grad) =\n{}\n\"2.weight\" (layer_2_W_grad) =\n{}",
        block(&crate_1, 8),
        block(&crate_2, 8)
    );
    let unchanged = net.param("0.weight") == Some(&w_layer_1) && net.param("2.weight") == Some(&w_layer_2);
    println!("weights unchanged by gradients(): {unchanged}");

    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(learning_rate)).epochs(1);
    net.fit(&x, &y, &mut config)?;
    let stepped_1 = net.param("0.weight").cloned().ok_or("no 0.weight")?;
    let stepped_2 = net.param("2.weight").cloned().ok_or("no 2.weight")?;

    let grad_diff = max_diff(&crate_1, &layer_1_w_grad).max(max_diff(&crate_2, &layer_2_w_grad));
    let loss_diff = (grads.loss - e).abs();
    let step_diff = max_diff(&stepped_1, &new_w_layer_1).max(max_diff(&stepped_2, &new_w_layer_2));
    let diff = grad_diff.max(loss_diff).max(step_diff);
    let agree = diff <= 1e-12 && unchanged;
    println!("largest difference, hand vs crate: gradients {grad_diff:.1e}, E {loss_diff:.1e}, weights after one epoch of fit {step_diff:.1e}");
    println!("agree to 1e-12: {agree}\n");

    // ---- The chain rule on scalars ----
    println!("--- the chain rule: t = x + y, z = t² ---");
    let (sx, sy) = (2.0, 3.0);
    let z = |x: f64, y: f64| {
        let t = x + y;
        t * t
    };
    let analytic = 2.0 * (sx + sy); // ∂z/∂t · ∂t/∂x = 2t · 1
    let h = 1e-5;
    let numeric = (z(sx + h, sy) - z(sx - h, sy)) / (2.0 * h);
    let chain_diff = (analytic - numeric).abs();
    println!("x = {sx}, y = {sy}: ∂z/∂x = 2(x + y) = {analytic}, central difference (h = {h:e}) = {numeric:.12}");
    println!("difference {chain_diff:.1e}");

    println!(
        "result: loss={e:.17} grad_max_diff={grad_diff:.1e} step_max_diff={step_diff:.1e} max_diff={diff:.1e} agree_1e-12={agree} dzdx={analytic} dzdx_numeric={numeric:.10} chain_diff={chain_diff:.1e}"
    );
    if !agree {
        return Err("the crate's step differs from the hand computation".into());
    }
    Ok(())
}

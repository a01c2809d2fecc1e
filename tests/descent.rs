//! Plain gradient descent folded into the backward pass ([`Optimizer::plain_descent`]): an
//! `Sgd` step whose weight-gradient product writes the new weights itself gives the bits of the
//! step that stores the gradient and then updates, and keeps the finiteness contract.

use backprop::{
    seeded, threads, Dense, Divergence, Error, Layer, Network, Optimizer, Param, Relu, Result, SeededRng, Sequential,
    Sgd, Shape, SoftmaxCrossEntropy, Stream, WeightDecay,
};
use nalgebra::DMatrix;
use std::fmt::Display;

/// An `Sgd` that does not let the step fold its update (it forwards everything but
/// `plain_descent`): every gradient is stored, then the update reads it.
#[derive(Debug)]
struct Unfolded(Sgd);

impl Optimizer<f32> for Unfolded {
    fn name(&self) -> &'static str {
        "unfolded sgd"
    }

    fn learning_rate(&self) -> f64 {
        self.0.learning_rate()
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        Optimizer::<f32>::set_learning_rate(&mut self.0, learning_rate)
    }

    fn step(&mut self, params: &mut [&mut Param<f32>]) -> Result<()> {
        self.0.step(params)
    }

    fn checks_updates(&self) -> bool {
        Optimizer::<f32>::checks_updates(&self.0)
    }

    fn weight_decay(&self) -> WeightDecay {
        Optimizer::<f32>::weight_decay(&self.0)
    }
}

/// `inputs-hidden-10`, ReLU, seeded.
fn network(inputs: usize, hidden: usize) -> Sequential<f32> {
    Sequential::<f32>::builder(inputs)
        .add(Dense::new(inputs, hidden))
        .add(Relu)
        .add(Dense::new(hidden, 10))
        .build(7)
        .unwrap()
}

/// `rows × cols` irregular values in [−scale, scale], and one-hot targets for the rows.
fn batch(rows: usize, cols: usize, phase: f32, scale: f32) -> (DMatrix<f32>, DMatrix<f32>) {
    let x =
        DMatrix::from_fn(rows, cols, |i, j| scale * (i as f32 * 0.754_877_7 + j as f32 * 0.569_840_3 + phase).sin());
    let t = DMatrix::from_fn(rows, 10, |i, j| if (i * 7 + 3) % 10 == j { 1.0 } else { 0.0 });
    (x, t)
}

/// Every parameter's value, as bits.
fn bits(net: &Sequential<f32>) -> Vec<Vec<u32>> {
    net.params().iter().map(|p| p.value().iter().map(|v| v.to_bits()).collect()).collect()
}

/// Five steps (rows, then samples, alternating) of `optimizer` on a fresh network.
fn train(inputs: usize, hidden: usize, batch_rows: usize, optimizer: &mut dyn Optimizer<f32>) -> Sequential<f32> {
    let mut net = network(inputs, hidden);
    let mut rng = seeded(1, Stream::Train);
    for step in 0..5 {
        let (x, t) = batch(batch_rows, inputs, step as f32, 1.0);
        if step % 2 == 0 {
            net.train_step(&x, &t, &SoftmaxCrossEntropy, optimizer, &mut rng).unwrap();
        } else {
            net.train_step_samples(&x.transpose(), &t, &SoftmaxCrossEntropy, optimizer, &mut rng).unwrap();
        }
    }
    net
}

#[test]
fn folded_steps_give_the_bits_of_the_stored_gradients_steps() {
    let decays = [WeightDecay::None, WeightDecay::L2(1e-3), WeightDecay::Decoupled(0.05)];
    // (inputs, hidden, batch, threads): batch 1 and small batches of many inputs (the folding
    // kernel's shapes), the digits MLP's 64 inputs at batch 32 (whole 16-row blocks), a product
    // split across two threads, layers too narrow to fold, and second layers of 16 or 32 inputs
    // whose gradient Hᵀ·δ folds with Hᵀ packed (batches of 16, 3 and 20).
    let cases = [
        (784, 128, 1, 1),
        (300, 40, 7, 1),
        (64, 128, 32, 1),
        (1024, 256, 8, 2),
        (64, 32, 1, 1),
        (784, 64, 100, 1),
        (7, 16, 16, 1),
        (7, 32, 3, 1),
        (7, 32, 20, 1),
    ];
    for (inputs, hidden, rows, count) in cases {
        for decay in decays {
            threads::set(count);
            let folded = train(inputs, hidden, rows, &mut Sgd::new(0.1).with_weight_decay(decay));
            let stored = train(inputs, hidden, rows, &mut Unfolded(Sgd::new(0.1).with_weight_decay(decay)));
            threads::set(0);
            let case = format!("{inputs}-{hidden}-10, batch {rows}, {count} threads, {decay:?}");
            assert_eq!(bits(&folded), bits(&stored), "{case}");
            assert_ne!(bits(&folded), bits(&network(inputs, hidden)), "{case}: the steps moved the weights");
            assert!(folded.params().iter().all(|p| p.grad().is_none()), "{case}: the steps consumed every gradient");
        }
    }
}

#[test]
fn a_folded_step_that_overflows_changes_nothing_and_names_the_weight() {
    // Inputs up to 100 and a learning rate of 1e38: the forward pass and the loss are finite,
    // the first layer's new weights are not.
    let (x, t) = batch(1, 784, 0.3, 100.0);
    let mut outcomes = Vec::new();
    for folds in [true, false] {
        let mut net = network(784, 128);
        let before = bits(&net);
        let sgd = Sgd::new(1e38);
        let mut optimizer: Box<dyn Optimizer<f32>> = if folds { Box::new(sgd) } else { Box::new(Unfolded(sgd)) };
        let mut rng = seeded(1, Stream::Train);
        let err = net.train_step(&x, &t, &SoftmaxCrossEntropy, &mut optimizer, &mut rng).unwrap_err();
        let Error::Diverged { cause, loss, .. } = err else { panic!("expected Diverged, got {err:?}") };
        assert!(matches!(cause, Divergence::LearningRate { index: 0, name: "weight" }), "{cause:?}");
        assert!(loss.is_finite());
        assert_eq!(bits(&net), before, "no weight changed");
        // A sane step afterwards trains from the same weights.
        let (x, t) = batch(1, 784, 0.3, 1.0);
        let mut optimizer: Box<dyn Optimizer<f32>> =
            if folds { Box::new(Sgd::new(0.1)) } else { Box::new(Unfolded(Sgd::new(0.1))) };
        net.train_step(&x, &t, &SoftmaxCrossEntropy, &mut optimizer, &mut rng).unwrap();
        outcomes.push((format!("{cause:?}"), bits(&net)));
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[test]
fn only_a_valid_sgd_folds_its_steps() {
    assert!(Optimizer::<f32>::plain_descent(&Sgd::new(0.1)).is_some());
    assert!(Optimizer::<f32>::plain_descent(&Sgd::new(-0.1)).is_none(), "an invalid rate is refused by step");
    assert!(Optimizer::<f32>::plain_descent(&backprop::Momentum::new(0.1)).is_none());
    assert!(Optimizer::<f32>::plain_descent(&backprop::Adam::new(1e-3)).is_none());
    let boxed: Box<dyn Optimizer<f32>> = Box::new(Sgd::new(0.1));
    assert!(boxed.plain_descent().is_some(), "a boxed Sgd is still plain descent");
    assert!(Unfolded(Sgd::new(0.1)).plain_descent().is_none());

    // A rate valid in f64 but 0 in f32: a step in f64 does not make it plain descent in f32.
    let mut tiny = Sgd::new(1e-50);
    let mut p = Param::new("weight", DMatrix::from_element(2, 2, 1.0f64), backprop::Decay::Applies);
    p.grad_mut().fill(0.5);
    Optimizer::<f64>::step(&mut tiny, &mut [&mut p]).unwrap();
    assert!(Optimizer::<f64>::plain_descent(&tiny).is_some());
    assert!(Optimizer::<f32>::plain_descent(&tiny).is_none(), "1e-50 is 0 in f32");
}

#[test]
fn a_fit_that_folds_trains_the_weights_of_one_that_does_not() {
    // 300 inputs, batches of 16 samples (and a last one of 4): `fit` hands them over sample by
    // sample, where the first layer's descent folds.
    let (x, t) = batch(100, 300, 0.1, 1.0);
    let labels = DMatrix::from_fn(100, 1, |i, _| t.row(i).iter().position(|&v| v == 1.0).unwrap_or(0) as f32);
    let fitted = |optimizer: Box<dyn Optimizer<f32>>| {
        let mut net = network(300, 64);
        let mut config = backprop::FitConfig::new(SoftmaxCrossEntropy, optimizer).epochs(3).batch_size(16).seed(5);
        let history = net.fit(&x, &labels, &mut config).unwrap();
        (bits(&net), format!("{:?}", history.loss))
    };
    let folded = fitted(Box::new(Sgd::new(0.05).with_weight_decay(WeightDecay::L2(1e-3))));
    let stored = fitted(Box::new(Unfolded(Sgd::new(0.05).with_weight_decay(WeightDecay::L2(1e-3)))));
    assert_eq!(folded, stored);
    assert_ne!(folded.0, bits(&network(300, 64)));
}

/// A container of a user's own: a `Dense` whose weight gradient it halves after the layer's
/// `backward` (as one scaling or tying its children's gradients would).
#[derive(Debug)]
struct HalvedWeightGradient(Dense<f32>);

impl Layer<f32> for HalvedWeightGradient {
    fn kind(&self) -> &'static str {
        "halved_weight_gradient"
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        self.0.build(input, rng)
    }

    fn forward(&self, x: &DMatrix<f32>, y: &mut DMatrix<f32>) -> Result<()> {
        self.0.forward(x, y)
    }

    fn backward(
        &mut self,
        x: &DMatrix<f32>,
        y: &DMatrix<f32>,
        g: &DMatrix<f32>,
        dx: Option<&mut DMatrix<f32>>,
    ) -> Result<()> {
        self.0.backward(x, y, g, dx)?;
        self.0.visit_params_mut(&mut |p| {
            if p.name() == "weight" {
                *p.grad_mut() *= 0.5;
            }
        });
        Ok(())
    }

    fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<f32>)) {
        f(&"inner", &self.0);
    }

    fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn Display, &'a mut dyn Layer<f32>)) {
        f(&"inner", &mut self.0);
    }
}

#[test]
fn a_container_of_ones_own_gets_gradients_to_work_on() {
    // A Dense of 784 inputs at batch 1 would fold its descent; inside a container that is not
    // the crate's, it keeps its gradient for the container to halve.
    let trained = |optimizer: &mut dyn Optimizer<f32>| {
        let mut net = Sequential::<f32>::builder(784)
            .add(HalvedWeightGradient(Dense::new(784, 32)))
            .add(Relu)
            .add(Dense::new(32, 10))
            .build(3)
            .unwrap();
        let mut rng = seeded(1, Stream::Train);
        for step in 0..3 {
            let (x, t) = batch(1, 784, step as f32, 1.0);
            net.train_step(&x, &t, &SoftmaxCrossEntropy, optimizer, &mut rng).unwrap();
        }
        bits(&net)
    };
    assert_eq!(trained(&mut Sgd::new(0.1)), trained(&mut Unfolded(Sgd::new(0.1))));
}

/// Sets weight `(row, col)` of the first layer to `value`, through `visit_params_mut` as a user
/// would.
fn set_first_weight(net: &mut Sequential<f32>, (row, col): (usize, usize), value: f32) {
    net.visit_params_mut(&mut |path, p| {
        if path == "0.weight" {
            p.value_mut()[(row, col)] = value;
        }
    });
}

#[test]
fn a_weight_near_the_largest_f32_takes_the_step_through_the_buffer() {
    // A weight of f32::MAX: the step cannot be proven finite in advance, so the kernel writes
    // the new values into the gradient's buffer and checks them; a small step keeps them finite,
    // and the bits are SgdRule's.
    let (x, t) = batch(1, 784, 0.3, 1.0);
    let mut nets = Vec::new();
    for folds in [true, false] {
        let mut net = network(784, 128);
        set_first_weight(&mut net, (5, 7), f32::MAX);
        let sgd = Sgd::new(1e-3);
        let mut optimizer: Box<dyn Optimizer<f32>> = if folds { Box::new(sgd) } else { Box::new(Unfolded(sgd)) };
        let mut rng = seeded(1, Stream::Train);
        for _ in 0..3 {
            // The huge weight makes the hidden unit's ReLU output huge: keep the loss finite by
            // feeding that input as 0.
            let mut x = x.clone();
            x[(0, 5)] = 0.0;
            net.train_step(&x, &t, &SoftmaxCrossEntropy, &mut optimizer, &mut rng).unwrap();
        }
        nets.push(bits(&net));
    }
    assert_eq!(nets[0], nets[1]);
}

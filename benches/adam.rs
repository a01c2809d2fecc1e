//! Adam's epoch times on MNIST: later epochs must take about as long as the first. Run:
//! `BACKPROP_DATA=/work/shared/data cargo bench --bench adam`.
//!
//! `adam-mnist-epochs`: mnist-mlp's network and data (`784-128-10`, ReLU, softmax cross-entropy,
//! He-normal weights, `f32`, pixels / 255, batch 100) trained with `Adam::new(1e-3)` for 5 epochs,
//! one `fit`. Prints one line with every epoch's seconds (from the history) and the ratio of the
//! slowest later epoch to the first, then the bench line of the whole `fit`, then the final
//! training loss and the test accuracy (to compare runs numerically). Skipped, with a line saying
//! so, when the MNIST files are missing.
//!
//! Before subnormal moments were flushed to zero, the later epochs took 1.6–1.7× the first.

mod harness;

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::prelude::*;
use harness::{Harness, Runs};

fn main() {
    let harness = Harness::from_args();
    const NAME: &str = "adam-mnist-epochs";
    if !harness.selected(NAME) {
        return;
    }
    let mnist = match load_mnist::<f32>(data_dir().join("mnist")) {
        Ok(m) => m,
        Err(e) => {
            println!("{NAME} skipped: {e}");
            return;
        }
    };
    let (x, t) = (mnist.train_x / 255.0, labels_column::<f32>(&mnist.train_labels));
    let (x_test, t_test) = (mnist.test_x / 255.0, labels_column::<f32>(&mnist.test_labels));
    let mut last = None;
    harness.bench_with_setup(
        NAME,
        Runs { warmup: 0, timed: 1 },
        || {
            let net = Sequential::<f32>::builder(784)
                .add(Dense::new(784, 128).with_init(Init::HeNormal))
                .add(Relu)
                .add(Dense::new(128, 10).with_init(Init::HeNormal))
                .build(0)
                .expect("the MLP builds");
            (net, FitConfig::new(SoftmaxCrossEntropy, Adam::new(1e-3)).epochs(5).batch_size(100))
        },
        |(mut net, mut config)| {
            let history = net.fit(&x, &t, &mut config).expect("the MLP trains");
            last = Some((net, history));
        },
    );
    let Some((net, history)) = last else { return };
    let seconds: Vec<String> = history.seconds.iter().map(|s| format!("{s:.3}")).collect();
    let first = history.seconds[0];
    let worst = history.seconds[1..].iter().fold(0.0f64, |m, &s| m.max(s));
    println!("{NAME} epoch_s={} worst_later_over_first={:.3}", seconds.join(","), worst / first);
    let test = net.evaluate(&x_test, &t_test, &SoftmaxCrossEntropy).expect("the MLP evaluates");
    println!(
        "{NAME} final_loss={:.6} test_accuracy={:.4}",
        history.loss.last().copied().unwrap_or(f64::NAN),
        test.accuracy
    );
}

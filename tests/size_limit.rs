//! The size limit of a parameter matrix is a documented, configurable, process-wide setting.
//! (Its own test binary: changing the limit would race with other tests' layers.)

use backprop::prelude::*;
use backprop::{max_elements, set_max_elements, Error, MAX_ELEMENTS};

#[test]
fn the_limit_refuses_before_allocating_and_can_be_raised() {
    assert_eq!(max_elements(), MAX_ELEMENTS);
    assert_eq!(MAX_ELEMENTS, 1 << 26);
    // 8192 × 8192 = 2²⁶ elements are at the limit (512 MiB of values and gradients in f32); one
    // more column is refused, and nothing is allocated for it.
    let over = Sequential::<f32>::builder(8192).add(Dense::new(8192, 8193)).build(0).unwrap_err();
    assert!(matches!(over, Error::TooLarge { rows: 8192, cols: 8193, limit, .. } if limit == MAX_ELEMENTS), "{over:?}");
    // The conv2d weight and a one-hot matrix obey the same limit.
    let conv = Sequential::<f32>::builder_shaped(Shape::Image { channels: 1 << 12, height: 16, width: 16 })
        .add(backprop::Conv2d::new(1 << 12, 1 << 12, (3, 3)))
        .build(0)
        .unwrap_err();
    assert!(matches!(conv, Error::TooLarge { .. }), "{conv:?}");

    // Lowered, a small layer is refused; raised back, it builds.
    assert!(matches!(set_max_elements(0), Err(Error::InvalidConfig { .. })));
    assert_eq!(set_max_elements(100).unwrap(), MAX_ELEMENTS);
    let small = Sequential::<f64>::builder(10).add(Dense::new(10, 11)).build(0).unwrap_err();
    assert!(matches!(small, Error::TooLarge { limit: 100, .. }), "{small:?}");
    assert!(Sequential::<f64>::builder(10).add(Dense::new(10, 10)).build(0).is_ok());
    assert_eq!(set_max_elements(MAX_ELEMENTS).unwrap(), 100);
    assert!(Sequential::<f64>::builder(10).add(Dense::new(10, 11)).build(0).is_ok());
}

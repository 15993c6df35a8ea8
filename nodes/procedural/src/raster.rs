//! Tensor rasterising for the procedural images: a [`Canvas`] holding an image as a
//! `candle-core` tensor of shape `[3, H, W]` (f32 in `[0, 1]`, CPU), shapes as signed-distance
//! masks over coordinate grids, and compositing with masks (`a * m + b * (1 - m)`).
//!
//! Every function here returns `candle_core::Result`; the image backend maps the errors into
//! `BackendError::Failed` at its boundary.

use candle_core::{DType, Device, Result, Tensor};
use image::RgbImage;

/// An RGB colour, components in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    /// The colour `t` of the way from `self` to `other`.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Rgb(l(self.0, other.0), l(self.1, other.1), l(self.2, other.2))
    }

    /// The colour with every component multiplied by `k` (darker below 1), clamped.
    pub fn scale(self, k: f32) -> Rgb {
        let c = |a: f32| (a * k).clamp(0.0, 1.0);
        Rgb(c(self.0), c(self.1), c(self.2))
    }

    /// A colour from hue (turns, `[0, 1)`), saturation and lightness.
    pub fn hsl(h: f32, s: f32, l: f32) -> Rgb {
        let q = if l < 0.5 { l * (1.0 + s) } else { l + s - l * s };
        let p = 2.0 * l - q;
        let channel = |t: f32| {
            let t = t.rem_euclid(1.0);
            if t < 1.0 / 6.0 {
                p + (q - p) * 6.0 * t
            } else if t < 0.5 {
                q
            } else if t < 2.0 / 3.0 {
                p + (q - p) * (2.0 / 3.0 - t) * 6.0
            } else {
                p
            }
        };
        Rgb(channel(h + 1.0 / 3.0), channel(h), channel(h - 1.0 / 3.0))
    }

    /// The Euclidean distance to `other` in RGB.
    pub fn distance(self, other: Rgb) -> f32 {
        ((self.0 - other.0).powi(2) + (self.1 - other.1).powi(2) + (self.2 - other.2).powi(2)).sqrt()
    }

    /// The colour as a `[3, 1, 1]` tensor, ready to broadcast over an image.
    pub fn tensor(self) -> Result<Tensor> {
        Tensor::from_vec(vec![self.0, self.1, self.2], (3, 1, 1), &Device::Cpu)
    }
}

/// What a shape is painted with.
#[derive(Debug, Clone)]
pub enum Fill<'a> {
    /// One colour.
    Solid(Rgb),
    /// A full-canvas image, `[3, H or 1, W or 1]` (a gradient or a texture).
    Image(&'a Tensor),
}

/// A shape, as a signed distance in pixels (negative inside) over a coordinate grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// An axis-aligned ellipse: centre and radii.
    Ellipse {
        /// Centre x.
        cx: f32,
        /// Centre y.
        cy: f32,
        /// Horizontal radius.
        rx: f32,
        /// Vertical radius.
        ry: f32,
    },
    /// An axis-aligned rectangle with rounded corners of radius `r`.
    RoundRect {
        /// Left.
        x0: f32,
        /// Top.
        y0: f32,
        /// Right.
        x1: f32,
        /// Bottom.
        y1: f32,
        /// Corner radius.
        r: f32,
    },
    /// A segment from `a` to `b` thickened by `r`.
    Capsule {
        /// One end.
        a: (f32, f32),
        /// The other end.
        b: (f32, f32),
        /// Half the thickness.
        r: f32,
    },
    /// A convex polygon (either winding).
    Polygon(Vec<(f32, f32)>),
    /// The first shape without the second.
    Minus(Box<Shape>, Box<Shape>),
    /// All the shapes together.
    Union(Vec<Shape>),
    /// Where both shapes are.
    Intersect(Box<Shape>, Box<Shape>),
}

impl Shape {
    /// An ellipse.
    pub fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Shape {
        Shape::Ellipse { cx, cy, rx, ry }
    }

    /// A circle.
    pub fn circle(cx: f32, cy: f32, r: f32) -> Shape {
        Shape::Ellipse { cx, cy, rx: r, ry: r }
    }

    /// A rectangle with sharp corners.
    pub fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Shape {
        Shape::RoundRect { x0, y0, x1, y1, r: 0.0 }
    }

    /// A rectangle with rounded corners.
    pub fn round_rect(x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> Shape {
        Shape::RoundRect { x0, y0, x1, y1, r }
    }

    /// A thick segment.
    pub fn capsule(a: (f32, f32), b: (f32, f32), r: f32) -> Shape {
        Shape::Capsule { a, b, r }
    }

    /// This shape without `other`.
    pub fn minus(self, other: Shape) -> Shape {
        Shape::Minus(Box::new(self), Box::new(other))
    }

    /// Where this shape and `other` both are.
    pub fn and(self, other: Shape) -> Shape {
        Shape::Intersect(Box::new(self), Box::new(other))
    }

    /// The bounding box `(x0, y0, x1, y1)`.
    pub fn bbox(&self) -> (f32, f32, f32, f32) {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => (cx - rx, cy - ry, cx + rx, cy + ry),
            Shape::RoundRect { x0, y0, x1, y1, .. } => (*x0, *y0, *x1, *y1),
            Shape::Capsule { a, b, r } => (a.0.min(b.0) - r, a.1.min(b.1) - r, a.0.max(b.0) + r, a.1.max(b.1) + r),
            Shape::Polygon(points) => points
                .iter()
                .fold((f32::MAX, f32::MAX, f32::MIN, f32::MIN), |(x0, y0, x1, y1), &(x, y)| {
                    (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
                }),
            Shape::Minus(a, _) => a.bbox(),
            Shape::Intersect(a, b) => {
                let (a, b) = (a.bbox(), b.bbox());
                (a.0.max(b.0), a.1.max(b.1), a.2.min(b.2), a.3.min(b.3))
            }
            Shape::Union(shapes) => shapes.iter().map(Shape::bbox).fold(
                (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
                |(x0, y0, x1, y1), (a, b, c, d)| (x0.min(a), y0.min(b), x1.max(c), y1.max(d)),
            ),
        }
    }

    /// The signed distance `[1, h, w]` over pixel-centre coordinates `xs` `[1, 1, w]` and
    /// `ys` `[1, h, 1]`.
    pub fn sdf(&self, xs: &Tensor, ys: &Tensor) -> Result<Tensor> {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => ellipse_sdf(xs, ys, *cx, *cy, *rx, *ry),
            Shape::RoundRect { x0, y0, x1, y1, r } => round_rect_sdf(xs, ys, (*x0, *y0, *x1, *y1), *r),
            Shape::Capsule { a, b, r } => capsule_sdf(xs, ys, *a, *b, *r),
            Shape::Polygon(points) => polygon_sdf(xs, ys, points),
            Shape::Minus(a, b) => a.sdf(xs, ys)?.maximum(&b.sdf(xs, ys)?.neg()?),
            Shape::Intersect(a, b) => a.sdf(xs, ys)?.maximum(&b.sdf(xs, ys)?),
            Shape::Union(shapes) => {
                let mut dist: Option<Tensor> = None;
                for shape in shapes {
                    let d = shape.sdf(xs, ys)?;
                    dist = Some(match dist {
                        Some(prev) => prev.minimum(&d)?,
                        None => d,
                    });
                }
                match dist {
                    Some(d) => Ok(d),
                    None => far(xs, ys),
                }
            }
        }
    }
}

fn ellipse_sdf(xs: &Tensor, ys: &Tensor, cx: f32, cy: f32, rx: f32, ry: f32) -> Result<Tensor> {
    let (rx, ry) = (rx.max(0.5), ry.max(0.5));
    let dx = xs.affine(1.0 / f64::from(rx), -f64::from(cx / rx))?.sqr()?;
    let dy = ys.affine(1.0 / f64::from(ry), -f64::from(cy / ry))?.sqr()?;
    let d = dx.broadcast_add(&dy)?.sqrt()?;
    d.affine(f64::from(rx.min(ry)), -f64::from(rx.min(ry)))
}

fn round_rect_sdf(xs: &Tensor, ys: &Tensor, (x0, y0, x1, y1): (f32, f32, f32, f32), r: f32) -> Result<Tensor> {
    let (hw, hh) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
    let r = r.min(hw).min(hh).max(0.0);
    let axis = |t: &Tensor, centre: f32, half: f32| -> Result<Tensor> {
        t.affine(1.0, -f64::from(centre))?
            .abs()?
            .affine(1.0, -f64::from(half - r))
    };
    let qx = axis(xs, x0 + hw, hw)?;
    let qy = axis(ys, y0 + hh, hh)?;
    let outside = qx.relu()?.sqr()?.broadcast_add(&qy.relu()?.sqr()?)?.sqrt()?;
    let inside = qx.broadcast_maximum(&qy)?.minimum(0.0)?;
    outside.add(&inside)?.affine(1.0, -f64::from(r))
}

fn capsule_sdf(xs: &Tensor, ys: &Tensor, a: (f32, f32), b: (f32, f32), r: f32) -> Result<Tensor> {
    let (ex, ey) = (b.0 - a.0, b.1 - a.1);
    let len2 = (ex * ex + ey * ey).max(1e-6);
    let px = xs.affine(1.0, -f64::from(a.0))?;
    let py = ys.affine(1.0, -f64::from(a.1))?;
    let t = px
        .affine(f64::from(ex / len2), 0.0)?
        .broadcast_add(&py.affine(f64::from(ey / len2), 0.0)?)?
        .clamp(0f32, 1f32)?;
    let dx = px.broadcast_sub(&t.affine(f64::from(ex), 0.0)?)?;
    let dy = py.broadcast_sub(&t.affine(f64::from(ey), 0.0)?)?;
    dx.sqr()?.add(&dy.sqr()?)?.sqrt()?.affine(1.0, -f64::from(r))
}

fn polygon_sdf(xs: &Tensor, ys: &Tensor, points: &[(f32, f32)]) -> Result<Tensor> {
    let n = points.len();
    let area: f32 = (0..n)
        .map(|i| {
            let (p, q) = (points[i], points[(i + 1) % n]);
            p.0 * q.1 - q.0 * p.1
        })
        .sum();
    let sign = if area < 0.0 { -1.0 } else { 1.0 };
    let mut dist: Option<Tensor> = None;
    for i in 0..n {
        let (p, q) = (points[i], points[(i + 1) % n]);
        let (ex, ey) = (q.0 - p.0, q.1 - p.1);
        let len = (ex * ex + ey * ey).sqrt().max(1e-6) * sign;
        // Outside distance of this edge: -(e × (r - p)) / |e|.
        let dx = xs.affine(f64::from(ey / len), -f64::from(ey * p.0 / len))?;
        let dy = ys.affine(-f64::from(ex / len), f64::from(ex * p.1 / len))?;
        let d = dx.broadcast_add(&dy)?;
        dist = Some(match dist {
            Some(prev) => prev.maximum(&d)?,
            None => d,
        });
    }
    match dist {
        Some(d) => Ok(d),
        None => far(xs, ys),
    }
}

/// The distance of an empty shape: far outside everywhere.
fn far(xs: &Tensor, ys: &Tensor) -> Result<Tensor> {
    xs.broadcast_add(ys)?.ones_like()?.affine(1e6, 0.0)
}

/// An image being drawn: `[3, H, W]` f32 in `[0, 1]` with its pixel-centre grids. The canvas
/// owns its storage (painting writes in place), so it hands out copies, never its tensor.
#[derive(Debug)]
pub struct Canvas {
    img: Tensor,
    xs: Tensor,
    ys: Tensor,
    width: usize,
    height: usize,
}

impl Canvas {
    /// A canvas from (a copy of) an image tensor `[3, H, W]`.
    pub fn from_tensor(img: &Tensor) -> Result<Canvas> {
        Canvas::owning(img.contiguous()?.copy()?)
    }

    /// A canvas taking `img`, a fresh result of tensor ops whose storage nobody else holds
    /// (painting writes in place).
    pub(crate) fn owning(img: Tensor) -> Result<Canvas> {
        let (_, height, width) = img.dims3()?;
        let xs = Tensor::arange(0u32, width as u32, &Device::Cpu)?
            .to_dtype(DType::F32)?
            .affine(1.0, 0.5)?
            .reshape((1, 1, width))?;
        let ys = Tensor::arange(0u32, height as u32, &Device::Cpu)?
            .to_dtype(DType::F32)?
            .affine(1.0, 0.5)?
            .reshape((1, height, 1))?;
        Ok(Canvas {
            img: img.contiguous()?,
            xs,
            ys,
            width,
            height,
        })
    }

    /// A canvas filled with one colour.
    pub fn filled(width: usize, height: usize, colour: Rgb) -> Result<Canvas> {
        Canvas::owning(colour.tensor()?.broadcast_as((3, height, width))?.contiguous()?)
    }

    /// A canvas with a vertical gradient from `top` to `bottom`.
    pub fn vertical_gradient(width: usize, height: usize, top: Rgb, bottom: Rgb) -> Result<Canvas> {
        let blank = Canvas::filled(width, height, top)?;
        let t = blank.ys.affine(1.0 / height as f64, 0.0)?;
        let img = blend(&top.tensor()?, &bottom.tensor()?, &t)?.broadcast_as((3, height, width))?;
        Canvas::owning(img.contiguous()?)
    }

    /// A canvas holding an 8-bit RGB image (converted to planar f32 in one pass).
    pub fn from_image(image: &RgbImage) -> Result<Canvas> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let mut planar = vec![0f32; 3 * w * h];
        for (i, px) in image.as_raw().chunks_exact(3).enumerate() {
            for (ch, &v) in px.iter().enumerate() {
                planar[ch * w * h + i] = f32::from(v) / 255.0;
            }
        }
        Canvas::owning(Tensor::from_vec(planar, (3, h, w), &Device::Cpu)?)
    }

    /// The image, rounded to 8 bits.
    pub fn to_image(&self) -> Result<RgbImage> {
        let planar = self.img.flatten_all()?.to_vec1::<f32>()?;
        let n = self.width * self.height;
        let mut bytes = vec![0u8; 3 * n];
        for (i, px) in bytes.chunks_exact_mut(3).enumerate() {
            for (ch, v) in px.iter_mut().enumerate() {
                *v = (planar[ch * n + i].clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
            }
        }
        RgbImage::from_raw(self.width as u32, self.height as u32, bytes)
            .ok_or_else(|| candle_core::Error::Msg("image buffer size mismatch".into()))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// A copy of the image tensor `[3, H, W]`.
    pub fn snapshot(&self) -> Result<Tensor> {
        self.img.copy()
    }

    /// A copy of the canvas.
    pub fn duplicate(&self) -> Result<Canvas> {
        Canvas::from_tensor(&self.img)
    }

    /// Applies `f` to the image tensor (read only) and returns its result.
    pub fn with_tensor<T>(&self, f: impl FnOnce(&Tensor) -> Result<T>) -> Result<T> {
        f(&self.img)
    }

    /// The x pixel-centre grid `[1, 1, W]`.
    pub fn xs(&self) -> &Tensor {
        &self.xs
    }

    /// The y pixel-centre grid `[1, H, 1]`.
    pub fn ys(&self) -> &Tensor {
        &self.ys
    }

    /// Replaces the whole image with a copy of `img` `[3, H, W]`.
    pub fn set(&mut self, img: &Tensor) -> Result<()> {
        self.replace(img.copy()?)
    }

    /// Replaces the whole image with `img`, a fresh result of tensor ops.
    fn replace(&mut self, img: Tensor) -> Result<()> {
        self.img = img.contiguous()?;
        Ok(())
    }

    /// Paints `shape` in `colour`.
    pub fn fill(&mut self, shape: &Shape, colour: Rgb) -> Result<()> {
        self.paint(shape, 0.0, 1.0, &Fill::Solid(colour))
    }

    /// Paints `shape` grown by `outline` pixels with `fill`, at opacity `alpha`. Only the
    /// shape's bounding box is computed and written.
    pub fn paint(&mut self, shape: &Shape, outline: f32, alpha: f32, fill: &Fill) -> Result<()> {
        self.paint_ramp(shape, (outline, 1.0), alpha, fill)
    }

    /// Paints `shape` with an edge fading inwards over `feather` pixels (a glow, when `feather`
    /// is the shape's radius), at opacity `alpha`.
    pub fn soft(&mut self, shape: &Shape, feather: f32, alpha: f32, fill: &Fill) -> Result<()> {
        self.paint_ramp(shape, (-feather / 2.0, feather), alpha, fill)
    }

    /// Paints with the mask `clamp((grow - sdf) / width + 1/2)`.
    fn paint_ramp(&mut self, shape: &Shape, (grow, width): (f32, f32), alpha: f32, fill: &Fill) -> Result<()> {
        let Some((x0, y0, w, h)) = self.clip(shape.bbox(), grow.max(0.0) + 1.0) else {
            return Ok(());
        };
        let xs = self.xs.narrow(2, x0, w)?;
        let ys = self.ys.narrow(1, y0, h)?;
        let k = f64::from(1.0 / width.max(1e-3));
        let mask = shape
            .sdf(&xs, &ys)?
            .affine(-k, f64::from(grow) * k + 0.5)?
            .clamp(0f32, 1f32)?;
        let mask = if alpha < 1.0 {
            mask.affine(f64::from(alpha), 0.0)?
        } else {
            mask
        };
        let src = match fill {
            Fill::Solid(colour) => colour.tensor()?,
            Fill::Image(t) => self.window(t, x0, y0, w, h)?,
        };
        let region = self.img.narrow(1, y0, h)?.narrow(2, x0, w)?;
        let out = blend(&region, &src, &mask)?;
        self.write(&out, x0, y0)
    }

    /// The part of a full-canvas tensor (`[C, H or 1, W or 1]`) over the given box.
    fn window(&self, t: &Tensor, x0: usize, y0: usize, w: usize, h: usize) -> Result<Tensor> {
        let (_, th, tw) = t.dims3()?;
        let t = if th == self.height {
            t.narrow(1, y0, h)?
        } else {
            t.clone()
        };
        if tw == self.width { t.narrow(2, x0, w) } else { Ok(t) }
    }

    /// The full-canvas mask `[1, H, W]` of `shape`, anti-aliased.
    pub fn mask(&self, shape: &Shape) -> Result<Tensor> {
        shape.sdf(&self.xs, &self.ys)?.affine(-1.0, 0.5)?.clamp(0f32, 1f32)
    }

    /// A row ramp `[1, H, 1]`: 0 above `y0`, 1 below `y1`, linear between.
    pub fn row_ramp(&self, y0: f32, y1: f32) -> Result<Tensor> {
        let span = f64::from((y1 - y0).abs().max(1e-3));
        self.ys.affine(1.0 / span, -f64::from(y0) / span)?.clamp(0f32, 1f32)
    }

    /// A column ramp `[1, 1, W]`: 0 left of `x0`, 1 right of `x1`, linear between.
    pub fn column_ramp(&self, x0: f32, x1: f32) -> Result<Tensor> {
        let span = f64::from((x1 - x0).abs().max(1e-3));
        self.xs.affine(1.0 / span, -f64::from(x0) / span)?.clamp(0f32, 1f32)
    }

    /// A vertical colour gradient `[3, H, 1]`: `top` above `y0`, `bottom` below `y1`.
    pub fn rows_gradient(&self, y0: f32, y1: f32, top: Rgb, bottom: Rgb) -> Result<Tensor> {
        blend(&top.tensor()?, &bottom.tensor()?, &self.row_ramp(y0, y1)?)
    }

    /// Blends `src` (`[3, H, W]` or broadcastable) over the whole image through `mask`
    /// (`[1, H, W]` or broadcastable).
    pub fn composite(&mut self, src: &Tensor, mask: &Tensor) -> Result<()> {
        let out = blend(&self.img, src, mask)?.broadcast_as((3, self.height, self.width))?;
        self.replace(out)
    }

    /// Blends the patch `src` `[3, h, w]` through `mask` `[1, h, w]` at `(x0, y0)`; the patch
    /// must lie inside the canvas.
    pub fn composite_at(&mut self, src: &Tensor, mask: &Tensor, x0: usize, y0: usize) -> Result<()> {
        let (_, h, w) = src.dims3()?;
        let region = self.img.narrow(1, y0, h)?.narrow(2, x0, w)?;
        let out = blend(&region, src, mask)?;
        self.write(&out, x0, y0)
    }

    /// Multiplies the image by `factor` (`[3 or 1, H or 1, W or 1]`).
    pub fn multiply(&mut self, factor: &Tensor) -> Result<()> {
        let out = self.img.broadcast_mul(factor)?;
        self.replace(out)
    }

    /// The integer pixel box `(x0, y0, w, h)` covering `bbox` grown by `margin`, clipped to the
    /// canvas; `None` when empty.
    fn clip(&self, (x0, y0, x1, y1): (f32, f32, f32, f32), margin: f32) -> Option<(usize, usize, usize, usize)> {
        let cx = |v: f32| v.clamp(0.0, self.width as f32) as usize;
        let cy = |v: f32| v.clamp(0.0, self.height as f32) as usize;
        let (a, b) = (cx((x0 - margin).floor()), cx((x1 + margin).ceil()));
        let (c, d) = (cy((y0 - margin).floor()), cy((y1 + margin).ceil()));
        if b > a && d > c {
            Some((a, c, b - a, d - c))
        } else {
            None
        }
    }

    /// Writes the patch `[3, h, w]` (a fresh tensor) at `(x0, y0)` in place.
    fn write(&mut self, patch: &Tensor, x0: usize, y0: usize) -> Result<()> {
        let (_, h, w) = patch.dims3()?;
        let patch = patch.contiguous()?;
        if h == self.height {
            return self.img.slice_set(&patch, 2, x0);
        }
        if w == self.width {
            return self.img.slice_set(&patch, 1, y0);
        }
        // A band of fewer rows than the image is a strided view: `contiguous` copies it.
        let band = self.img.narrow(1, y0, h)?.contiguous()?;
        band.slice_set(&patch, 2, x0)?;
        self.img.slice_set(&band, 1, y0)
    }
}

/// `a * (1 - m) + b * m`, broadcasting.
pub fn blend(a: &Tensor, b: &Tensor, m: &Tensor) -> Result<Tensor> {
    b.broadcast_sub(a)?.broadcast_mul(m)?.broadcast_add(a)
}

/// Resamples the window `(x0, y0, x1, y1)` of `src` `[C, H, W]` (pixel units, fractional) to
/// `[C, h, w]` by bilinear interpolation.
pub fn resample(src: &Tensor, window: (f32, f32, f32, f32), w: usize, h: usize) -> Result<Tensor> {
    let (_, sh, sw) = src.dims3()?;
    let (x0, y0, x1, y1) = window;
    let rows = lerp_axis(src, 1, sh, y0, (y1 - y0) / h as f32, h)?;
    lerp_axis(&rows, 2, sw, x0, (x1 - x0) / w as f32, w)
}

/// Bilinear resampling along one axis: output `i` samples source coordinate
/// `start + (i + 0.5) * step`.
fn lerp_axis(src: &Tensor, dim: usize, len: usize, start: f32, step: f32, n: usize) -> Result<Tensor> {
    let max = len.saturating_sub(1) as f32;
    let mut lo = Vec::with_capacity(n);
    let mut hi = Vec::with_capacity(n);
    let mut frac = Vec::with_capacity(n);
    for i in 0..n {
        let s = (start + (i as f32 + 0.5) * step - 0.5).clamp(0.0, max);
        let f = s.floor();
        lo.push(f as u32);
        hi.push((f + 1.0).min(max) as u32);
        frac.push(s - f);
    }
    let lo = src.index_select(&Tensor::from_vec(lo, n, &Device::Cpu)?, dim)?;
    let hi = src.index_select(&Tensor::from_vec(hi, n, &Device::Cpu)?, dim)?;
    let shape: Vec<usize> = (0..3).map(|d| if d == dim { n } else { 1 }).collect();
    let frac = Tensor::from_vec(frac, shape, &Device::Cpu)?;
    blend(&lo, &hi, &frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn shapes_paint_inside_only() -> TestResult {
        let mut c = Canvas::filled(40, 30, Rgb(0.0, 0.0, 0.0))?;
        c.fill(&Shape::ellipse(20.0, 15.0, 8.0, 6.0), Rgb(1.0, 0.0, 0.0))?;
        c.fill(&Shape::round_rect(1.0, 1.0, 6.0, 6.0, 2.0), Rgb(0.0, 1.0, 0.0))?;
        c.fill(
            &Shape::Polygon(vec![(30.0, 20.0), (39.0, 29.0), (30.0, 29.0)]),
            Rgb(0.0, 0.0, 1.0),
        )?;
        let img = c.to_image()?;
        assert_eq!(img.get_pixel(20, 15).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(3, 3).0, [0, 255, 0]);
        assert_eq!(img.get_pixel(31, 27).0, [0, 0, 255]);
        assert_eq!(img.get_pixel(38, 21).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 29).0, [0, 0, 0]);
        Ok(())
    }

    #[test]
    fn image_round_trip_and_resample() -> TestResult {
        let mut c = Canvas::vertical_gradient(8, 6, Rgb(0.0, 0.0, 0.0), Rgb(1.0, 1.0, 1.0))?;
        c.fill(&Shape::capsule((1.0, 1.0), (6.0, 1.0), 0.8), Rgb(1.0, 0.0, 0.0))?;
        let img = c.to_image()?;
        let back = Canvas::from_image(&img)?.to_image()?;
        assert_eq!(img, back);
        let same = c.with_tensor(|t| resample(t, (0.0, 0.0, 8.0, 6.0), 8, 6))?;
        assert_eq!(Canvas::from_tensor(&same)?.to_image()?, img);
        Ok(())
    }
}

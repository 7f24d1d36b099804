"""`serving.package` drives how the inference function is packaged: zip with the ml layer
(full, the default), zip with the onnx layer, or a container image with both paths."""

from __future__ import annotations

import re

import pytest
from aws_cdk.assertions import Match, Template

from infra.app_builder import build_app
from infra.stage import MlrailsStage
from infra.support.paths import IMAGE_CONTEXT_DIR, IMAGE_DOCKERFILE
from mlrails import wiring
from mlrails.config import ProjectConfig, Serving

INFERENCE = wiring.function("inference").description


def _serving(cfg: ProjectConfig, package: str) -> ProjectConfig:
    return cfg.model_copy(update={"serving": Serving(package=package)})


def _inference_layers(template: Template) -> set[str]:
    """The layers of the inference function, by name (LambdaLayers ids them "Ml", "Onnx"...)."""
    [function] = template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": INFERENCE}}).values()
    refs = [layer["Ref"] for layer in function["Properties"].get("Layers", [])]
    return {re.match(r"^Layers([A-Z][a-z]+)", ref).group(1).lower() for ref in refs}


@pytest.mark.parametrize(
    ("package", "packaging", "layers"),
    [
        ("full", "zip", ("shared", "ml")),
        ("onnx", "zip", ("shared", "onnx")),
        ("image", "image", ()),
    ],
)
def test_each_package_names_its_packaging_and_layers(cfg, package, packaging, layers):
    spec = wiring.inference_function(_serving(cfg, package))
    assert (spec.packaging, spec.layers) == (packaging, layers)
    assert spec.description == INFERENCE and spec.timeout_seconds == wiring.function("inference").timeout_seconds
    assert set(wiring.layers_in_use(_serving(cfg, package))) == {"shared", "data", *layers}


def test_the_default_full_package_ships_the_ml_layer(service_template: Template, cfg):
    assert cfg.serving.package == "full"
    # SnapStart only where an environment asks for it (test_service.py).
    service_template.has_resource_properties("AWS::Lambda::Function", {"Description": INFERENCE})
    assert _inference_layers(service_template) == {"shared", "ml"}
    assert not service_template.find_resources(
        "AWS::Lambda::LayerVersion", {"Properties": {"Description": Match.string_like_regexp("^mlrails onnx")}}
    )


@pytest.fixture(scope="module")
def image_service(cfg, fast_context) -> Template:
    """One extra synth: the image package, one environment (cdk-nag included)."""
    single = _serving(cfg, "image").model_copy(update={"environments": {"dev": cfg.environments["dev"]}})
    app = build_app(fast_context, config=single, builtin_validation=False)
    stage = app.node.find_child("dev")
    assert isinstance(stage, MlrailsStage)
    return Template.from_stack(stage.service)  # raises on any unacknowledged cdk-nag finding


def test_the_image_package_is_a_container_function_behind_the_same_alias(image_service: Template):
    image_service.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": INFERENCE,
            "PackageType": "Image",
            "Code": {"ImageUri": Match.any_value()},
            "Layers": Match.absent(),
        },
    )
    image_service.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    # Only the zip functions' layers: neither ml nor onnx is built into this stack.
    descriptions = sorted(
        layer["Properties"]["Description"].split(":")[0]
        for layer in image_service.find_resources("AWS::Lambda::LayerVersion").values()
    )
    assert descriptions == ["mlrails data", "mlrails shared"]


def test_the_inference_image_installs_the_lock_and_the_handler():
    dockerfile = (IMAGE_CONTEXT_DIR / IMAGE_DOCKERFILE).read_text()
    assert dockerfile.startswith("#") and "FROM public.ecr.aws/lambda/python:3.12" in dockerfile
    installs = re.findall(r"pip install [^&\n]*", dockerfile)
    assert installs and all("--no-deps" in command for command in installs)
    assert "--require-hashes --requirement /tmp/runtime.txt" in dockerfile and "pip check" in dockerfile
    assert "ARG FUNCTION" in dockerfile and "COPY functions/${FUNCTION}/ ${LAMBDA_TASK_ROOT}/" in dockerfile
    assert 'CMD ["handler.lambda_handler"]' in dockerfile
    allowed = (IMAGE_CONTEXT_DIR / ".dockerignore").read_text().splitlines()
    assert {"!functions/inference/handler.py", "!functions/Dockerfile"} <= set(allowed)

"""Wire format. Field names are camelCase, as in the reference services."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HealthState(str, Enum):
    UP = "UP"
    DOWN = "DOWN"


class Health(BaseModel):
    status: HealthState
    # Only present when DOWN, so that an UP answer is exactly {"status": "UP"}.
    checks: dict[str, HealthState] | None = None


class ModelStatus(str, Enum):
    training = "training"
    development = "development"
    staging = "staging"
    production = "production"


class DataType(str, Enum):
    production = "production"
    synthetic = "synthetic"
    mixed = "mixed"


class Error(BaseModel):
    detail: Any


class ModelResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "A model version in the catalog"})

    modelIdentifier: int
    name: str
    version: str
    status: ModelStatus
    library: str
    libraryVersion: str
    domain: str
    tag: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    characteristics: dict[str, Any] = Field(default_factory=dict)
    # Additions over the reference (clients that do not know them ignore them):
    sha256: str = Field(description="hex SHA-256 of the model file")
    size: int = Field(description="bytes")
    created: dt.datetime
    createdBy: str
    statusChangedAt: dt.datetime
    statusChangedBy: str


class ModelCatalog(BaseModel):
    models: list[ModelResponse]


class StatusChange(BaseModel):
    status: ModelStatus
    comment: str | None = Field(None, max_length=2000)


class StatusEvent(BaseModel):
    fromStatus: ModelStatus | None
    toStatus: ModelStatus
    changedBy: str
    changedAt: dt.datetime
    comment: str | None = None


class StatusHistory(BaseModel):
    modelIdentifier: int
    status: ModelStatus
    history: list[StatusEvent]


class DatasetFileInfo(BaseModel):
    size: int
    sha256: str


class DatasetResponse(BaseModel):
    datasetIdentifier: int
    name: str
    version: str
    dataType: DataType
    tag: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Additions over the reference:
    sha256: str = Field(description="hex SHA-256 of the zip served by GET /dataset/by_id/{id}")
    size: int = Field(description="bytes of that zip")
    dataset: DatasetFileInfo
    dataModel: DatasetFileInfo
    created: dt.datetime
    createdBy: str


class DatasetCatalog(BaseModel):
    datasets: list[DatasetResponse]

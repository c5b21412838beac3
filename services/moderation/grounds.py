"""The grounds on which a comment or an initiative is not published (R-3.7, R-1.5), coded, with the
regulation's wording, so that every rejection names its grounds (R-1.1)."""
from __future__ import annotations

from pydantic import BaseModel


class Ground(BaseModel):
    code: str
    title: str
    clause: str


GROUNDS: dict[str, Ground] = {g.code: g for g in [
    Ground(code="separatism", clause="3.7", title="Заклики до ліквідації незалежності України"),
    Ground(code="violent_change", clause="3.7", title="Заклики до зміни конституційного ладу насильницьким шляхом"),
    Ground(code="sovereignty", clause="3.7", title="Заклики до порушення суверенітету і територіальної цілісності держави"),
    Ground(code="security", clause="3.7", title="Заклики до підриву безпеки держави"),
    Ground(code="seizure_of_power", clause="3.7", title="Заклики до незаконного захоплення державної влади"),
    Ground(code="war_propaganda", clause="3.7", title="Пропаганда війни"),
    Ground(code="violence", clause="3.7", title="Пропаганда насильства"),
    Ground(code="hatred", clause="3.7", title="Розпалювання міжетнічної, расової, релігійної ворожнечі"),
    Ground(code="rights_and_health", clause="3.7", title="Посягання на права і свободи людини, здоров'я населення"),
    Ground(code="anonymous", clause="3.7", title="Анонімна пропозиція"),
    Ground(code="obscene", clause="3.7", title="Ненормативна лексика"),
    Ground(code="off_topic", clause="3.7", title="Не стосується питання консультації"),
    Ground(code="political_campaigning", clause="1.5", title="Політична, зокрема передвиборча, агітація"),
]}

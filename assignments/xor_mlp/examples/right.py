# 과제: XOR 문제와 다층 퍼셉트론 — .py 로 제출 (submitted as a module)

import torch

torch.manual_seed(777)

X = torch.FloatTensor([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = torch.FloatTensor([[0], [1], [1], [0]])

model = torch.nn.Sequential(
    torch.nn.Linear(2, 10), torch.nn.Sigmoid(),
    torch.nn.Linear(10, 1), torch.nn.Sigmoid())

criterion = torch.nn.BCELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1)

for step in range(2001):
    optimizer.zero_grad()
    hypothesis = model(X)
    cost = criterion(hypothesis, Y)
    cost.backward()
    optimizer.step()
    if step % 500 == 0:
        print(step, cost.item())

with torch.no_grad():
    predicted = (model(X) > 0.5).float()
    print('Accuracy:', (predicted == Y).float().mean().item())

slp = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())

criterion = torch.nn.BCELoss()
optimizer = torch.optim.SGD(slp.parameters(), lr=1)

for step in range(1001):
    optimizer.zero_grad()
    hypothesis = slp(X)
    cost = criterion(hypothesis, Y)
    cost.backward()
    optimizer.step()
    if step % 500 == 0:
        print(step, cost.item())

with torch.no_grad():
    predicted = (slp(X) > 0.5).float()
    print('Accuracy:', (predicted == Y).float().mean().item())

# **답 (answer):** 단층 퍼셉트론은 입력 공간에 직선 하나(선형 결정 경계)만 그을 수 있습니다. XOR 의 (0,1), (1,0) 과 (0,0),
# (1,1) 은 직선 하나로 나눌 수 없어서 loss 가 ln 2 ≈ 0.69 근처에 머물고 정확도는 50–75 % 를 넘지 못했습니다.

def predict(x):
    with torch.no_grad():
        return (model(x) > 0.5).long().view(-1)
